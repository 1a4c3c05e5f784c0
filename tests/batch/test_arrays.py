"""batch.arrays: the arrays ``pa.array`` would make, made without importing pandas."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

from batch.arrays import float_values, numbers, objects, scalar, sparse_strings, strings


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "int64", "float32", "float64"])
@pytest.mark.parametrize("masked", [False, True])
def test_numbers_are_pa_array(dtype: str, masked: bool) -> None:
    values = np.arange(-3, 9).astype(dtype)[::-1]  # a strided view, not a copy
    mask = (values % 3 == 0) if masked else None
    got = numbers(values, mask=mask)
    assert got.equals(pa.array(values, mask=mask))
    assert got.null_count == (int(mask.sum()) if masked else 0)


def test_numbers_refuse_what_is_not_a_number() -> None:
    with pytest.raises(TypeError, match="not bool"):
        numbers(np.array([True, False]))


@pytest.mark.parametrize(
    "values",
    [[], ["泰山区", None, ""], [None, None], ["370902000000"] * 5, ["a\x00b", "é"]],
    ids=["empty", "mixed", "all null", "repeated", "odd characters"],
)
def test_strings_are_pa_array(values: list[str | None]) -> None:
    expected = pa.array(values, type=pa.string())
    assert strings(values).equals(expected)
    assert sparse_strings(np.array(values, dtype=object)).equals(expected)


@pytest.mark.parametrize(
    ("value", "kind"),
    [("a", pa.string()), ("", pa.string()), (None, pa.string()), (True, pa.bool_()), (False, pa.bool_()),
     (float("nan"), pa.float64()), (2.5, pa.float64()), (60, pa.int64()), (None, pa.float64())],
)  # fmt: skip
def test_scalars_are_pa_scalar(value: object, kind: pa.DataType) -> None:
    got, expected = scalar(value, kind), pa.scalar(value, kind)  # type: ignore[arg-type]
    assert (got.type, got.is_valid, repr(got.as_py())) == (
        expected.type,
        expected.is_valid,
        repr(expected.as_py()),
    )


def test_a_scalar_of_another_kind_is_refused() -> None:
    with pytest.raises(TypeError, match="not int32"):
        scalar(1, pa.int32())


@pytest.mark.parametrize("offset", [0, 3])
def test_values_come_back_as_numpy(offset: int) -> None:
    column = pa.array([1, None, 3, 4.5, None, -2.0])[offset:]
    expected = column.to_numpy(zero_copy_only=False)
    got = float_values(column)
    np.testing.assert_array_equal(got, expected)
    got[:] = 0  # a copy: the Arrow buffer is not touched
    assert column.to_pylist() == pa.array([1, None, 3, 4.5, None, -2.0])[offset:].to_pylist()
    words = pa.array(["a", None, "泰安"])[offset // 3 :]
    assert objects(words).tolist() == words.to_pylist()


def test_none_of_them_imports_pandas() -> None:
    script = (
        "import sys, numpy as np\n"
        "from batch.arrays import float_values, numbers, objects, scalar, sparse_strings, strings\n"
        "numbers(np.arange(3), mask=np.array([True, False, False]))\n"
        "strings(['a', None]).take(numbers(np.array([1, 0])))\n"
        "sparse_strings(np.array([None, 'x'], dtype=object))\n"
        "import pyarrow as pa\n"
        "from batch.arrays import float_values, objects, scalar\n"
        "float_values(strings(['1']).cast(pa.float64())); objects(strings(['a']))\n"
        "scalar('a', pa.string()); scalar(True, pa.bool_()); scalar(1.0, pa.float64())\n"
        "print('pandas' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
