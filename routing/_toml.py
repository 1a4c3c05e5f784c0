"""Reading the package's TOML data files with errors that name the file and the line."""

from __future__ import annotations

import re
import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Any

from geo.errors import InvalidInputError

# tomllib (3.11) puts the position only in the message text: "... (at line 3, column 5)".
_POSITION = re.compile(r"at line (\d+), column (\d+)")


def read_toml(
    path: str | Path | None, *, resource: str, error: type[InvalidInputError], what: str
) -> tuple[dict[str, Any], str]:
    """Parse a TOML file, or the packaged ``resource`` when ``path`` is None.

    Returns the parsed table and the name to use for the file in messages.  An
    unreadable file or a syntax error raises ``error`` naming the file (and the line
    and column for a syntax error).

    Examples
    --------
    >>> from routing.errors import CalendarDataError
    >>> data, source = read_toml(None, resource="calendar.toml", error=CalendarDataError, what="calendar")
    >>> source, data["timezone"]
    ('routing/calendar.toml', 'Asia/Shanghai')
    """
    if path is None:
        source = f"routing/{resource}"
        text = (files("routing") / resource).read_text(encoding="utf-8")
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise error(f"{source}: cannot read the {what} file: {reason}", file=source) from exc
    try:
        return tomllib.loads(text), source
    except tomllib.TOMLDecodeError as exc:
        found = _POSITION.search(str(exc))
        line, column = (int(found[1]), int(found[2])) if found else (None, None)
        where = f" at line {line}, column {column}" if found else ""
        raise error(
            f"{source}: malformed TOML{where}: {exc}; the {what} file must be valid TOML 1.0",
            file=source,
            line=line,
            column=column,
        ) from exc
