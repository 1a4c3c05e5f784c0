"""How the command line prints answers, without the console machinery (typer, rich):
the fast start of ``siji lookup`` (:mod:`siji.launch`) prints with it too."""

from __future__ import annotations

import json
import sys
from typing import Any


def print_json(data: Any) -> None:
    """Print JSON to stdout, Chinese characters unescaped.

    Examples
    --------
    >>> print_json({"name": "泰安市"})
    {
      "name": "泰安市"
    }
    """
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
