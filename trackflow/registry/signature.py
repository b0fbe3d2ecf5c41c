"""Model signatures: which columns (and dtypes) a model takes, and what it returns.

A signature is inferred from the input example when a model is saved and stored in the
package manifest. At prediction time :func:`validate_input` turns whatever the caller
passed (a DataFrame, records, a dict of columns or a 2-D array) into a DataFrame with the
signature's columns in order, applying only *safe* dtype widenings and rejecting
everything else with a message that names the column, the expected and the actual dtype.

Dtype strings are numpy/pandas names (``"int64"``, ``"float64"``, ``"bool"``,
``"datetime64[ns]"``, ``"category"``, ``"object"``) plus ``"string"`` for text columns,
whatever their in-memory representation (``object`` in pandas 2, ``str`` in pandas 3).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from trackflow.exceptions import InvalidInputError

__all__ = [
    "ColumnSpec",
    "ModelSignature",
    "infer_signature",
    "signature_from_estimator",
    "validate_input",
    "as_dataframe",
]

_MLFLOW_TYPES = {
    "bool": "boolean", "int8": "integer", "int16": "integer", "int32": "integer",
    "int64": "long", "uint8": "integer", "uint16": "integer", "uint32": "long",
    "float32": "float", "float64": "double", "string": "string", "str": "string",
}
_MLFLOW_NUMERIC = frozenset(_MLFLOW_TYPES) - {"string", "str"}
_TEXT_DTYPES = frozenset({"string", "str"})
_SPECIAL_DTYPES = _TEXT_DTYPES | {"object", "category"}
# infer_dtype() results that mean "only text (or nothing) in here".
_TEXT_INFERRED = frozenset({"string", "empty"})


def _is_supported_dtype(dtype: str) -> bool:
    """True for dtype strings signatures can check: text, object, category, bool,
    int/uint/float of any width and datetime64 (with or without time zone)."""
    if dtype in _SPECIAL_DTYPES:
        return True
    try:
        resolved = pd.api.types.pandas_dtype(dtype)
    except (TypeError, ValueError):
        return False
    if ptypes.is_datetime64_any_dtype(resolved):
        return True
    return isinstance(resolved, np.dtype) and resolved.kind in "biuf"


@dataclass(frozen=True)
class ColumnSpec:
    """One named input column and the dtype the model was trained with."""

    name: str
    dtype: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInputError(f"column name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.dtype, str):
            raise InvalidInputError(f"dtype of column {self.name!r} must be a string")
        if not _is_supported_dtype(self.dtype):
            raise InvalidInputError(
                f"unsupported dtype {self.dtype!r} for column {self.name!r}; use a numpy "
                "bool/int/uint/float or datetime64 dtype, 'string', 'category' or 'object'"
            )


@dataclass(frozen=True)
class ModelSignature:
    """Input columns of a model and a description of its prediction output."""

    inputs: tuple[ColumnSpec, ...]
    output: dict[str, Any] | None = None

    @property
    def column_names(self) -> list[str]:
        """Names of the input columns, in order."""
        return [spec.name for spec in self.inputs]

    def to_dict(self) -> dict[str, Any]:
        """Plain, YAML/JSON-serializable form (inverse of :meth:`from_dict`)."""
        return {
            "inputs": [{"name": spec.name, "dtype": spec.dtype} for spec in self.inputs],
            "output": None if self.output is None else dict(self.output),
        }

    def to_mlflow(self, *, tensor: bool = False) -> dict[str, str] | None:
        """This signature in MLflow's MLmodel form (``inputs``/``outputs`` as JSON strings).

        ``tensor=True`` describes the inputs as one ``[-1, n]`` tensor (for models fit on
        arrays) when all columns share a numeric dtype. Returns None when a column has no
        MLflow equivalent (category, object, tz-aware datetimes ...).
        """
        dtypes = {spec.dtype for spec in self.inputs}
        if tensor and len(dtypes) == 1 and next(iter(dtypes)) in _MLFLOW_NUMERIC:
            spec = {"dtype": next(iter(dtypes)), "shape": [-1, len(self.inputs)]}
            inputs: list[dict[str, Any]] = [{"type": "tensor", "tensor-spec": spec}]
        else:
            inputs = []
            for column in self.inputs:
                kind = _MLFLOW_TYPES.get(column.dtype)
                if kind is None and re.fullmatch(r"datetime64\[\w+\]", column.dtype):
                    kind = "datetime"
                if kind is None:
                    return None
                inputs.append({"type": kind, "name": column.name, "required": True})
        result = {"inputs": json.dumps(inputs)}
        output = self.output or {}
        if output.get("type") == "array" and output.get("dtype") in _MLFLOW_NUMERIC:
            spec = {"dtype": output["dtype"], "shape": output.get("shape", [-1])}
            result["outputs"] = json.dumps([{"type": "tensor", "tensor-spec": spec}])
        return result

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSignature:
        """Build a signature from :meth:`to_dict` output; malformed data -> InvalidInputError."""
        if not isinstance(data, Mapping) or not isinstance(data.get("inputs"), list):
            raise InvalidInputError("a model signature needs an 'inputs' list")
        specs = []
        for item in data["inputs"]:
            if not isinstance(item, Mapping) or set(item) != {"name", "dtype"}:
                raise InvalidInputError(f"malformed signature input entry: {item!r}")
            specs.append(ColumnSpec(name=item["name"], dtype=item["dtype"]))
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise InvalidInputError(f"duplicate column names in signature: {names}")
        output = data.get("output")
        if output is not None and not isinstance(output, Mapping):
            raise InvalidInputError("signature 'output' must be a mapping or null")
        return cls(inputs=tuple(specs), output=None if output is None else dict(output))


# --------------------------------------------------------------------------- inference


def _dtype_name(series: pd.Series) -> str:
    """Normalized dtype string of one column (see module docstring)."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if ptypes.is_datetime64_any_dtype(dtype):
        return str(dtype)
    if ptypes.is_string_dtype(dtype) and dtype != object:  # noqa: E721 - numpy dtype equality, not a type test
        return "string"
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):
        numpy_dtype = getattr(dtype, "numpy_dtype", None)  # Int64 / Float64 / boolean
        return str(numpy_dtype) if numpy_dtype is not None else str(dtype)
    if dtype == object:  # noqa: E721 - numpy dtype equality
        inferred = ptypes.infer_dtype(series, skipna=True)
        return {
            "string": "string",
            "empty": "string",
            "boolean": "bool",
            "integer": "int64",
            "floating": "float64",
            "mixed-integer-float": "float64",
        }.get(inferred, "object")
    if dtype.kind in "US":
        return "string"
    return str(dtype)


def _describe_output(output: Any) -> dict[str, Any]:
    """Describe a prediction result: a dataframe's columns or an array's dtype and shape."""
    if isinstance(output, pd.DataFrame):
        columns = [{"name": str(c), "dtype": _dtype_name(output[c])} for c in output.columns]
        return {"type": "dataframe", "columns": columns}
    array = np.asarray(output)
    if array.dtype.kind in "USO":
        dtype = _dtype_name(pd.Series(array.ravel()[:1000], dtype=array.dtype))
    else:
        dtype = str(array.dtype)
    shape = [-1, *array.shape[1:]] if array.ndim else []
    return {"type": "array", "dtype": dtype, "shape": shape}


def infer_signature(
    input_example: pd.DataFrame | np.ndarray, output: Any | None = None
) -> ModelSignature:
    """Infer a signature from an input example (and optionally the model's output on it).

    A 2-D ndarray gets columns named ``"0"``, ``"1"``, ... which :func:`validate_input`
    maps positionally when an array is passed again.
    """
    frame = as_dataframe(input_example)
    inputs = []
    for column in frame.columns:
        dtype = _dtype_name(frame[column])
        # dtypes that cannot be checked (timedelta, period, complex ...) are left untyped
        inputs.append(ColumnSpec(str(column), dtype if _is_supported_dtype(dtype) else "object"))
    described = None if output is None else _describe_output(output)
    return ModelSignature(inputs=tuple(inputs), output=described)


def _training_dtype(dtype: str | None) -> str:
    """A signature dtype for a dtype string a dataset schema recorded (``"object"`` when unknown)."""
    if dtype is None:
        return "object"
    if dtype in _TEXT_DTYPES or dtype.startswith("string"):
        return "string"
    if dtype == "object":  # text or mixed: the recorded schema cannot tell, so no dtype check
        return "object"
    return dtype if _is_supported_dtype(dtype) else "object"


def signature_from_estimator(
    model: Any, training_schema: Sequence[Mapping[str, str]] | None = None
) -> ModelSignature | None:
    """The input signature a fitted estimator knows without an input example, or None.

    Column names come from ``feature_names_in_`` (a model fit on a DataFrame), else
    ``n_features_in_`` gives positional columns ``"0"``, ``"1"``, ...; each column's dtype
    is the one ``training_schema`` (a dataset schema, ``[{"name", "dtype"}, ...]``)
    recorded for it, else ``"object"`` (the column is required, its dtype not checked).
    """
    names_in = getattr(model, "feature_names_in_", None)
    if names_in is not None:
        names = [str(name) for name in names_in]
    else:
        count = getattr(model, "n_features_in_", None)
        if not isinstance(count, (int, np.integer)) or isinstance(count, bool) or count <= 0:
            return None
        names = [str(i) for i in range(int(count))]
    if not names or len(set(names)) != len(names):
        return None
    known = {str(column.get("name")): str(column.get("dtype")) for column in training_schema or ()}
    return ModelSignature(inputs=tuple(ColumnSpec(name, _training_dtype(known.get(name))) for name in names))


# -------------------------------------------------------------------------- validation


def as_dataframe(data: Any, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Turn supported model input into a DataFrame with string column names.

    Accepted: a DataFrame, a list of dict records, a dict of column -> list (or of
    column -> scalar for a single record), a 2-D ndarray or a list of row sequences.
    Arrays and row lists are mapped positionally onto ``columns`` (``"0"``, ``"1"``, ...
    when ``columns`` is None).
    """
    try:
        frame = _build_frame(data, columns)
    except (ValueError, TypeError) as exc:  # e.g. columns of different lengths
        raise InvalidInputError(f"cannot read the model input as a table: {exc}") from exc
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        raise InvalidInputError(f"input has duplicate column names: {names}")
    return frame if names == list(frame.columns) else frame.set_axis(names, axis=1)


def _build_frame(data: Any, columns: Sequence[str] | None) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, np.ndarray):
        if data.ndim != 2:
            raise InvalidInputError(f"an ndarray input must be 2-D, got shape {data.shape}")
        frame = _positional(pd.DataFrame(data), columns)
    elif isinstance(data, Mapping):
        values = list(data.values())
        if values and all(ptypes.is_list_like(v) for v in values):
            frame = pd.DataFrame(dict(data))
        elif not any(ptypes.is_list_like(v) for v in values):
            frame = pd.DataFrame([dict(data)])
        else:
            raise InvalidInputError("a dict input must map all columns to lists, or all to scalars")
    elif isinstance(data, (list, tuple)):
        if not data:
            raise InvalidInputError("input has no rows")
        if all(isinstance(row, Mapping) for row in data):
            frame = pd.DataFrame.from_records(list(data))
        elif all(isinstance(row, (list, tuple)) for row in data):
            frame = _positional(pd.DataFrame(list(data)), columns)
        else:
            raise InvalidInputError("a list input must hold only dict records or only row lists")
    else:
        raise InvalidInputError(
            f"unsupported model input type {type(data).__name__}; pass a DataFrame, a list of "
            "records, a dict of column -> list, or a 2-D numpy array"
        )
    return frame


def _positional(frame: pd.DataFrame, columns: Sequence[str] | None) -> pd.DataFrame:
    names = [str(i) for i in range(frame.shape[1])] if columns is None else list(columns)
    if frame.shape[1] != len(names):
        raise InvalidInputError(
            f"positional input has {frame.shape[1]} columns but the model signature expects "
            f"{len(names)}: {names}"
        )
    renamed: pd.DataFrame = frame.set_axis(names, axis=1)
    return renamed


def validate_input(signature: ModelSignature, data: Any) -> pd.DataFrame:
    """Check ``data`` against ``signature`` and return a DataFrame ready for the model.

    The result has exactly the signature's columns, in order (extra columns are dropped).
    Safe widenings (smaller ints -> int64, ints/bools -> float, float32 -> float64) and
    lossless integer conversions (int64 values that fit an int32 column) are applied;
    every other dtype mismatch, a missing column or missing values in an integer
    column raise :class:`InvalidInputError` naming the column(s).
    """
    frame = as_dataframe(data, columns=signature.column_names)
    positional = [str(i) for i in range(len(signature.inputs))]
    if (
        signature.column_names == positional and frame.shape[1] == len(positional)
        and not set(positional) & set(frame.columns)
    ):  # a model fit on an array, given a table with names of its own: by position, as scikit-learn does
        frame = frame.set_axis(positional, axis=1)
    missing = [name for name in signature.column_names if name not in frame.columns]
    if missing:
        raise InvalidInputError(
            f"input is missing column(s) {missing} required by the model signature",
            hint=f"the model expects columns {signature.column_names}",
        )
    problems: list[str] = []
    conformed: dict[str, pd.Series] = {}
    for spec in signature.inputs:
        try:
            conformed[spec.name] = _conform(frame[spec.name], spec.dtype)
        except _ColumnError as exc:
            problems.append(f"column {spec.name!r}: {exc}")
    if problems:
        raise InvalidInputError("input does not match the model signature: " + "; ".join(problems))
    ready: pd.DataFrame = pd.DataFrame(conformed, index=frame.index)
    return ready


class _ColumnError(Exception):
    """Internal: why one column does not conform (message without the column name)."""


def _is_text(series: pd.Series) -> bool:
    if ptypes.is_string_dtype(series.dtype) and series.dtype != object:
        return True
    if isinstance(series.dtype, pd.CategoricalDtype):
        return ptypes.infer_dtype(series.cat.categories, skipna=True) in _TEXT_INFERRED
    return series.dtype == object and ptypes.infer_dtype(series, skipna=True) in _TEXT_INFERRED


def _conform(series: pd.Series, expected: str) -> pd.Series:
    """Return ``series`` cast to ``expected`` if that is a safe conversion, else raise."""
    plain = series.dtype != object and not ptypes.is_string_dtype(series.dtype)
    actual = str(series.dtype) if plain else _dtype_name(series)
    if expected == "object":
        return series
    if expected in _TEXT_DTYPES:
        if _is_text(series):
            return series
        raise _ColumnError(f"expected {expected} (text), got {actual}")
    if expected == "category":
        if isinstance(series.dtype, pd.CategoricalDtype):
            return series
        if _is_text(series):
            return series.astype("category")
        raise _ColumnError(f"expected category (or text), got {actual}")
    target = pd.api.types.pandas_dtype(expected)
    if ptypes.is_datetime64_any_dtype(target):
        return _conform_datetime(series, target, actual)
    if isinstance(target, np.dtype):  # always, for the dtypes signatures accept (_is_supported_dtype)
        return _conform_numeric(series, target, actual)
    raise _ColumnError(f"expected {expected}, got {actual}")


def _conform_datetime(series: pd.Series, target: Any, actual: str) -> pd.Series:
    if not ptypes.is_datetime64_any_dtype(series.dtype):
        hint = " (parse it with pd.to_datetime first)" if _is_text(series) else ""
        raise _ColumnError(f"expected {target}, got {actual}{hint}")
    if getattr(series.dtype, "tz", None) != getattr(target, "tz", None):
        raise _ColumnError(f"expected {target}, got {actual} (time zones differ)")
    return series if series.dtype == target else series.astype(target)


def _conform_numeric(series: pd.Series, target: np.dtype, actual: str) -> pd.Series:
    series = _to_numpy_backed(series, target, actual)
    source = series.dtype
    if not isinstance(source, np.dtype):  # never: _to_numpy_backed returns numpy-backed columns
        raise _ColumnError(f"expected {target}, got {actual}")
    if source == target:
        return series
    if source.kind == "f" and target.kind in "iub":
        if series.isna().any():
            raise _ColumnError(
                f"expected {target}, got {source} with missing values (NaN); an integer "
                "column cannot hold missing values: impute or drop them before predicting"
            )
        values = series.to_numpy()
        integral = np.all(np.isfinite(values)) and np.all(values == np.round(values))
        if target.kind != "b" and integral:
            raise _ColumnError(
                f"expected {target}, got {source}; the values are whole numbers but float -> "
                f"int is not a safe cast, convert explicitly with .astype('{target}')"
            )
        raise _ColumnError(f"expected {target}, got {source}")
    if np.can_cast(source, target, casting="safe"):
        return series.astype(target)
    if source.kind in "iu" and target.kind in "iu" and _fits(series, target):
        return series.astype(target)  # lossless: e.g. int64 records for an int32 column
    raise _ColumnError(f"expected {target}, got {source} (not a safe widening)")


def _fits(series: pd.Series, target: np.dtype) -> bool:
    """True when every value of an integer column is representable in ``target``."""
    if series.empty:
        return True
    info = np.iinfo(target)
    return bool(int(series.min()) >= info.min and int(series.max()) <= info.max)


def _to_numpy_backed(series: pd.Series, target: np.dtype, actual: str) -> pd.Series:
    """Map nullable, object and text columns onto a plain numpy dtype, or raise."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        return series
    if _is_text(series):
        raise _ColumnError(
            f"expected {target}, got {actual}: a numeric column was given as strings; "
            "convert it to numbers before predicting"
        )
    has_na = bool(series.isna().any())
    if target.kind in "iub" and has_na:
        raise _ColumnError(
            f"expected {target}, got {actual} with missing values (NaN/None); an integer "
            "column cannot hold missing values: impute or drop them before predicting"
        )
    numpy_dtype: np.dtype[Any] | None = getattr(dtype, "numpy_dtype", None)  # Int64 / Float64 / boolean
    if numpy_dtype is None and dtype == object:  # noqa: E721 - numpy dtype equality
        inferred = _dtype_name(series)
        numpy_dtype = np.dtype(inferred) if inferred in ("int64", "float64", "bool") else None
    if numpy_dtype is None:
        raise _ColumnError(f"expected {target}, got {actual}")
    converted: pd.Series
    if has_na:  # only reachable for float targets: missing values become NaN
        converted = pd.Series(
            series.to_numpy(dtype="float64", na_value=np.nan), index=series.index, name=series.name
        )
    else:
        converted = series.astype(numpy_dtype)
    return converted
