"""Checks of what the analyses are given, shared so that each says the same thing."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geo.errors import InvalidInputError


def nonnegative_column(
    frame: pd.DataFrame, column: str, *, frame_name: str, field: str, because: str = ""
) -> NDArray[np.float64]:
    """The values of a numeric column as floats, refused (naming the row and the value)
    unless every one is finite and >= 0.

    ``field`` is the parameter that named the column; ``because`` is added to the
    message of a bad value.

    Examples
    --------
    >>> nonnegative_column(pd.DataFrame({"n": [1, 2]}), "n", frame_name="areas", field="value")
    array([1., 2.])
    >>> try:
    ...     nonnegative_column(pd.DataFrame({"n": [1, -2]}), "n", frame_name="areas", field="value")
    ... except InvalidInputError as exc:
    ...     print(exc)
    areas row 1 has n = -2.0; allowed: finite values >= 0
    >>> try:
    ...     nonnegative_column(pd.DataFrame({"s": ["a"]}), "n", frame_name="areas", field="value")
    ... except InvalidInputError as exc:
    ...     print(exc)
    value 'n' is not a numeric column of areas; allowed: none
    """
    if column not in frame.columns or not pd.api.types.is_numeric_dtype(frame[column]):
        numeric = [str(c) for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
        raise InvalidInputError(
            f"{field} {column!r} is not a numeric column of {frame_name}; "
            f"allowed: {', '.join(numeric) or 'none'}",
            field=field,
            value=column,
            allowed=numeric,
        )
    values: NDArray[np.float64] = frame[column].to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        reason = f" ({because})" if because else ""
        raise InvalidInputError(
            f"{frame_name} row {frame.index[first]!r} has {column} = {values[first]}; "
            f"allowed: finite values >= 0{reason}",
            field=field,
            value=str(values[first]),
        )
    return values
