"""numpy to Arrow without ``pyarrow.array``, which imports pandas.

``pa.array`` asks whether its input is a pandas object, and to ask it imports pandas:
0.2 s of a fresh ``siji lookup-batch`` (pandas 0.16 s, ``pyarrow.pandas_compat``
0.05 s, measured with ``python -X importtime``) for a run that never touches a
DataFrame.  These build the same arrays from buffers (``pa.Array.from_buffers``), which
asks nothing, and the scalars ``pyarrow.compute`` would otherwise make from Python
values with ``pa.scalar`` (which asks too); the tests pin them to ``pa.array`` and
``pa.scalar``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray


def numbers(values: NDArray[np.number], mask: NDArray[np.bool_] | None = None) -> pa.Array:
    """An Arrow array of ``values`` (zero-copy when contiguous), null where ``mask``.

    Examples
    --------
    >>> numbers(np.array([3, -1, 5]), mask=np.array([False, True, False])).to_pylist()
    [3, None, 5]
    >>> numbers(np.array([0.5, 2.0])).type
    DataType(double)
    """
    values = np.ascontiguousarray(values)
    if values.dtype.kind not in "iuf":
        raise TypeError(f"numbers() takes integers or floats, not {values.dtype}")
    return pa.Array.from_buffers(
        pa.from_numpy_dtype(values.dtype), len(values), [_validity(mask), pa.py_buffer(values)]
    )


def booleans(values: NDArray[np.bool_]) -> pa.Array:
    """An Arrow boolean array of ``values`` (no nulls).

    Examples
    --------
    >>> booleans(np.array([True, False, True])).to_pylist()
    [True, False, True]
    """
    bits = pa.py_buffer(np.packbits(np.asarray(values, dtype=bool), bitorder="little"))
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, bits])


def strings(values: Sequence[str | None] | NDArray[np.object_]) -> pa.Array:
    """An Arrow string array of ``values`` (None is null).

    Examples
    --------
    >>> strings(["泰山区", None, ""]).to_pylist()
    ['泰山区', None, '']
    >>> strings(np.full(3, None, dtype=object)).null_count
    3
    """
    items = np.asarray(values, dtype=object)
    missing = np.equal(items, np.array(None, dtype=object))
    encoded = [b"" if item is None else item.encode() for item in items.tolist()]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=offsets[1:])
    mask = missing if missing.any() else None
    return pa.Array.from_buffers(
        pa.string(),
        len(encoded),
        [_validity(mask), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))],
    )


def sparse_strings(values: NDArray[np.object_]) -> pa.Array:
    """:func:`strings` of a column that is mostly None (the ``error`` column), without a
    Python step per row: the present values only, placed with ``take``.

    Examples
    --------
    >>> sparse_strings(np.array([None, "bad", None], dtype=object)).to_pylist()
    [None, 'bad', None]
    """
    present = np.not_equal(values, np.array(None, dtype=object))
    if present.all():
        return strings(values)
    where = np.cumsum(present, dtype=np.int64) - 1
    return strings(values[present]).take(numbers(where, mask=~present))


def scalar(value: str | float | bool | None, kind: pa.DataType) -> pa.Scalar:
    """``pa.scalar(value, kind)`` for a string, float64, int64 or boolean ``kind`` (None is
    null): the item of a one-element array.  ``pyarrow.compute`` functions given a
    plain Python value make it with ``pa.scalar``, so pass them one of these.

    Examples
    --------
    >>> scalar("a", pa.string()).as_py(), scalar(True, pa.bool_()).as_py(), scalar(0.5, pa.float64()).as_py()
    ('a', True, 0.5)
    >>> scalar(None, pa.string()).is_valid
    False
    """
    if value is None:
        return pa.nulls(1, kind)[0]
    if pa.types.is_string(kind) and isinstance(value, str):
        return strings([value])[0]
    if pa.types.is_boolean(kind):
        return booleans(np.array([bool(value)]))[0]
    if pa.types.is_float64(kind) and isinstance(value, float):
        return numbers(np.array([value], dtype=np.float64))[0]
    if pa.types.is_int64(kind) and isinstance(value, int):
        return numbers(np.array([value], dtype=np.int64))[0]
    raise TypeError(f"scalar() makes strings, float64, int64 and booleans, not {kind} from {value!r}")


def float_values(array: pa.Array) -> NDArray[np.float64]:
    """A numeric array's values as float64 (a writable copy), NaN for null
    (``to_numpy`` imports pandas).

    Examples
    --------
    >>> float_values(numbers(np.array([1.5, 2.0]), mask=np.array([False, True]))).tolist()
    [1.5, nan]
    """
    filled = pc.fill_null(array.cast(pa.float64()), scalar(math.nan, pa.float64()))
    values = np.frombuffer(filled.buffers()[1], dtype=np.float64, count=len(filled) + filled.offset)
    return values[filled.offset :].copy()


def objects(array: pa.Array) -> NDArray[np.object_]:
    """An array's values as Python objects (None for null), without pandas.

    Examples
    --------
    >>> objects(strings(["a", None])).tolist()
    ['a', None]
    """
    found = np.empty(len(array), dtype=object)
    found[:] = array.to_pylist()
    return found


def _validity(mask: NDArray[np.bool_] | None) -> pa.Buffer | None:
    """Arrow's validity bitmap (1 = valid, least significant bit first) for ``mask``."""
    if mask is None:
        return None
    return pa.py_buffer(np.packbits(~np.asarray(mask, dtype=bool), bitorder="little"))
