"""Tests for trackflow.registry.signature: inference, (de)serialization, validation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from trackflow.exceptions import InvalidInputError
from trackflow.registry.signature import (
    ColumnSpec,
    ModelSignature,
    as_dataframe,
    infer_signature,
    validate_input,
)


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "price": [1.5, 2.0, 3.25],
            "qty": np.array([1, 2, 3], dtype="int64"),
            "city": ["a", "b", "c"],
            "flag": [True, False, True],
            "when": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
            "kind": pd.Categorical(["x", "y", "x"]),
        }
    )


@pytest.fixture
def signature(frame: pd.DataFrame) -> ModelSignature:
    return infer_signature(frame, np.array([0, 1, 0]))


def test_infer_signature_dtypes(frame: pd.DataFrame, signature: ModelSignature) -> None:
    dtypes = {spec.name: spec.dtype for spec in signature.inputs}
    assert dtypes["price"] == "float64"
    assert dtypes["qty"] == "int64"
    assert dtypes["city"] == "string"  # object (pandas 2) and str (pandas 3) alike
    assert dtypes["flag"] == "bool"
    assert dtypes["when"].startswith("datetime64[")
    assert dtypes["kind"] == "category"
    assert signature.column_names == list(frame.columns)
    assert signature.output == {"type": "array", "dtype": "int64", "shape": [-1]}


def test_infer_signature_object_strings_and_nullable() -> None:
    frame = pd.DataFrame(
        {
            "s": pd.Series(["u", None], dtype=object),
            "n": pd.array([1, 2], dtype="Int64"),
            "td": pd.to_timedelta([1, 2], unit="s"),
        }
    )
    dtypes = {spec.name: spec.dtype for spec in infer_signature(frame).inputs}
    assert dtypes == {"s": "string", "n": "int64", "td": "object"}


def test_infer_signature_from_ndarray_names_columns_positionally() -> None:
    signature = infer_signature(np.zeros((4, 3), dtype="float32"))
    assert signature.column_names == ["0", "1", "2"]
    assert {spec.dtype for spec in signature.inputs} == {"float32"}
    assert signature.output is None


def test_output_descriptions() -> None:
    example = pd.DataFrame({"a": [1.0, 2.0]})
    proba = infer_signature(example, np.array([[0.1, 0.9], [0.4, 0.6]])).output
    assert proba == {"type": "array", "dtype": "float64", "shape": [-1, 2]}
    labels = infer_signature(example, np.array(["yes", "no"])).output
    assert labels is not None and labels["dtype"] == "string"
    table = infer_signature(example, pd.DataFrame({"p": [0.5, 0.5]})).output
    assert table == {"type": "dataframe", "columns": [{"name": "p", "dtype": "float64"}]}


def test_to_dict_from_dict_round_trip(signature: ModelSignature) -> None:
    data = json.loads(json.dumps(signature.to_dict()))
    assert ModelSignature.from_dict(data) == signature


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"inputs": "a"},
        {"inputs": [{"name": "a"}]},
        {"inputs": [{"name": "a", "dtype": "float64", "x": 1}]},
        {"inputs": [{"name": "a", "dtype": "no-such-dtype"}]},
        {"inputs": [{"name": "a", "dtype": "float64"}, {"name": "a", "dtype": "int64"}]},
        {"inputs": [], "output": "array"},
    ],
)
def test_from_dict_rejects_malformed(data: dict) -> None:
    with pytest.raises(InvalidInputError):
        ModelSignature.from_dict(data)


def test_column_spec_rejects_bad_values() -> None:
    with pytest.raises(InvalidInputError):
        ColumnSpec(name="", dtype="float64")
    with pytest.raises(InvalidInputError, match="complex128"):
        ColumnSpec(name="z", dtype="complex128")


def test_validate_returns_signature_columns_in_order(
    frame: pd.DataFrame, signature: ModelSignature
) -> None:
    shuffled = frame[list(reversed(frame.columns))].assign(extra=1)
    result = validate_input(signature, shuffled)
    assert list(result.columns) == signature.column_names
    pd.testing.assert_frame_equal(result, frame, check_dtype=False)


def test_validate_records_and_column_dict(signature: ModelSignature) -> None:
    record = {
        "price": 2.5, "qty": 3, "city": "z", "flag": False,
        "when": pd.Timestamp("2024-05-01"), "kind": "y", "ignored": "x",
    }
    from_records = validate_input(signature, [record, record])
    from_columns = validate_input(signature, {k: [v, v] for k, v in record.items()})
    from_scalars = validate_input(signature, record)
    assert list(from_records.columns) == signature.column_names
    assert len(from_records) == 2 and len(from_scalars) == 1
    pd.testing.assert_frame_equal(from_records, from_columns)
    assert from_records["qty"].dtype == np.int64
    assert from_records["kind"].dtype == "category"  # text cast to the expected category


def test_validate_missing_columns_named(frame: pd.DataFrame, signature: ModelSignature) -> None:
    with pytest.raises(InvalidInputError) as info:
        validate_input(signature, frame.drop(columns=["qty", "city"]))
    assert "qty" in str(info.value) and "city" in str(info.value)
    assert "price" not in str(info.value)


def test_validate_numeric_column_given_as_strings(
    frame: pd.DataFrame, signature: ModelSignature
) -> None:
    with pytest.raises(InvalidInputError) as info:
        validate_input(signature, frame.assign(price=["1.5", "2", "3"]))
    message = str(info.value)
    assert "'price'" in message and "float64" in message and "strings" in message


def test_validate_wrong_dtype_names_column_expected_and_actual(
    frame: pd.DataFrame, signature: ModelSignature
) -> None:
    with pytest.raises(InvalidInputError) as info:
        validate_input(signature, frame.assign(city=[1, 2, 3]))
    message = str(info.value)
    assert "'city'" in message and "string" in message and "int64" in message


def test_validate_integral_floats_for_int_column_rejected(
    frame: pd.DataFrame, signature: ModelSignature
) -> None:
    with pytest.raises(InvalidInputError) as info:
        validate_input(signature, frame.assign(qty=[1.0, 2.0, 3.0]))
    message = str(info.value)
    assert "'qty'" in message and "whole numbers" in message and "astype" in message


@pytest.mark.parametrize(
    "qty",
    [
        [1.0, np.nan, 3.0],
        pd.array([1, None, 3], dtype="Int64"),
        pd.Series([1, None, 3], dtype=object),
    ],
)
def test_validate_missing_values_in_int_column_rejected(
    frame: pd.DataFrame, signature: ModelSignature, qty: object
) -> None:
    with pytest.raises(InvalidInputError, match=r"'qty'.*missing values"):
        validate_input(signature, frame.assign(qty=qty))


def test_validate_safe_widenings_accepted(frame: pd.DataFrame, signature: ModelSignature) -> None:
    narrow = frame.assign(
        price=np.array([1, 2, 3], dtype="int32"),
        qty=np.array([1, 2, 3], dtype="int32"),
        flag=pd.array([True, False, True], dtype="boolean"),
        city=frame["city"].astype(object),
    )
    result = validate_input(signature, narrow)
    assert result["price"].dtype == np.float64
    assert result["qty"].dtype == np.int64
    assert result["flag"].dtype == np.bool_
    assert result["price"].tolist() == [1.0, 2.0, 3.0]


def test_validate_float32_and_bool_to_float() -> None:
    signature = ModelSignature(inputs=(ColumnSpec("x", "float64"), ColumnSpec("y", "float64")))
    data = pd.DataFrame({"x": np.array([0.5], dtype="float32"), "y": [True]})
    result = validate_input(signature, data)
    assert result.dtypes.tolist() == [np.float64, np.float64]


def test_validate_nullable_float_keeps_nan() -> None:
    signature = ModelSignature(inputs=(ColumnSpec("x", "float64"),))
    result = validate_input(signature, pd.DataFrame({"x": pd.array([1, None], dtype="Int64")}))
    assert result["x"].dtype == np.float64 and np.isnan(result["x"].iloc[1])


def test_validate_narrowing_rejected_unless_lossless() -> None:
    signature = ModelSignature(inputs=(ColumnSpec("i", "int32"), ColumnSpec("f", "float32")))
    ok = validate_input(signature, {"i": [1, 2], "f": np.array([1.0, 2.0], dtype="float32")})
    assert ok["i"].dtype == np.int32
    with pytest.raises(InvalidInputError, match="'i'"):
        validate_input(signature, {"i": [2**40], "f": np.array([1.0], dtype="float32")})
    with pytest.raises(InvalidInputError, match="'f'.*float32.*float64"):
        validate_input(signature, {"i": [1], "f": [1.0]})


def test_validate_bool_column_rejects_ints() -> None:
    signature = ModelSignature(inputs=(ColumnSpec("b", "bool"),))
    with pytest.raises(InvalidInputError, match="'b'"):
        validate_input(signature, {"b": [0, 1]})


def test_validate_datetime_units_and_strings(
    frame: pd.DataFrame, signature: ModelSignature
) -> None:
    other_unit = frame.assign(when=frame["when"].astype("datetime64[s]"))
    expected = dict((s.name, s.dtype) for s in signature.inputs)["when"]
    assert str(validate_input(signature, other_unit)["when"].dtype) == expected
    with pytest.raises(InvalidInputError, match="pd.to_datetime"):
        validate_input(signature, frame.assign(when=["2024-01-01"] * 3))


def test_validate_object_column_accepts_anything() -> None:
    signature = ModelSignature(inputs=(ColumnSpec("o", "object"),))
    assert validate_input(signature, {"o": [1, "a"]})["o"].tolist() == [1, "a"]


def test_validate_ndarray_positional() -> None:
    signature = ModelSignature(inputs=(ColumnSpec("a", "float64"), ColumnSpec("b", "float64")))
    result = validate_input(signature, np.array([[1, 2], [3, 4]], dtype="int32"))
    assert list(result.columns) == ["a", "b"]
    assert result.to_numpy().tolist() == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(InvalidInputError, match="3 columns"):
        validate_input(signature, np.zeros((1, 3)))
    with pytest.raises(InvalidInputError, match="2-D"):
        validate_input(signature, np.zeros(2))


@pytest.mark.parametrize(
    "bad", [[], "text", 3, [{"a": 1}, [1]], {"a": [1], "b": 2}, {"a": [1], "b": [1, 2]}]
)
def test_as_dataframe_rejects_unsupported_input(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        as_dataframe(bad)


def test_to_mlflow_column_and_tensor_forms(signature: ModelSignature) -> None:
    numeric = ModelSignature(
        inputs=(ColumnSpec("a", "float64"), ColumnSpec("b", "int32")),
        output={"type": "array", "dtype": "int64", "shape": [-1]},
    )
    columns = json.loads(numeric.to_mlflow()["inputs"])
    assert columns == [
        {"type": "double", "name": "a", "required": True},
        {"type": "integer", "name": "b", "required": True},
    ]
    outputs = json.loads(numeric.to_mlflow()["outputs"])
    assert outputs == [{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]
    array_sig = infer_signature(np.zeros((2, 3)))
    tensor = json.loads(array_sig.to_mlflow(tensor=True)["inputs"])
    assert tensor == [{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 3]}}]
    assert signature.to_mlflow() is None  # category column has no MLflow type
