"""Content fingerprint, schema and profile of datasets.

:func:`fingerprint_dataset` turns a DataFrame / Series, a numpy array, a file or a directory
into a :class:`DatasetFingerprint`: a ``sha256:<hex>`` content hash, schema, shape, size and
a compact JSON-safe per-column profile. What the hash covers (format v1 - changing it
invalidates stored fingerprints):

* **DataFrame** (a Series is a one-column frame): shape; column labels *in order* (column
  order matters); each column's dtype, null mask and values; the index's level names, dtypes
  and values (row order matters). Values go through :func:`pandas.util.hash_pandas_object`
  with its fixed key, so the result does not depend on ``PYTHONHASHSEED``, process or
  machine. To survive pandas upgrades, text hashes alike as ``object``, ``str`` or
  ``string`` dtype, and datetimes alike in any unit. Object columns holding anything but
  strings (lists, dicts, mixed types) hash ``type:repr`` of each cell.
* **numpy array**: little-endian ``dtype.str``, shape and C-order bytes (object arrays:
  ``type:repr`` of each element).
* **file**: the sha256 of its bytes, as ``sha256sum`` prints it.
* **directory**: sha256 over the sorted relative POSIX paths and each file's sha256.

pandas, numpy and pyarrow are imported only when data of that kind is fingerprinted.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trackflow.exceptions import InvalidInputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["DatasetFingerprint", "fingerprint_dataset", "is_dataset_like"]

# CSV / parquet files this large are not read in full: no CSV row count, no profile.
_PROFILE_LIMIT_BYTES = 50 * 1024 * 1024

_FORMAT = b"trackflow-fingerprint-v1\n"
_HASH_KEY = "0123456789123456"  # pandas' default key, pinned so a new default cannot leak in
_CHUNK = 1024 * 1024
_TOP_N = 5
_SAMPLE_ROWS = 1000
_SUPPORTED = (
    "a pandas DataFrame or Series, a numpy ndarray, or a path (str or os.PathLike) "
    "to an existing file or directory"
)
# What parsing a data file may raise: an unparseable file is still fingerprinted by bytes.
_READ_ERRORS = (ImportError, OSError, ValueError, TypeError, KeyError, NotImplementedError)
# What exotic extension dtypes may raise when hashed or profiled; both degrade, never fail.
_DEGRADE_ERRORS = (TypeError, ValueError, NotImplementedError, OverflowError, AttributeError)


@dataclass(frozen=True)
class DatasetFingerprint:
    """Content hash, schema and profile of one dataset.

    ``schema`` lists ``{"name", "dtype"}`` per column (the index is not a column); 2-D arrays
    name columns ``"0"``, ``"1"``..., other arrays have one entry ``"array"``; files have
    columns only if they are readable CSV/TSV/parquet. ``profile`` is JSON-serializable:
    ``{"columns": {name: stats}, "truncated": bool}`` for tabular data, ``{"file_count": n}``
    for directories, ``{}`` when not profiled. ``size_bytes`` is the on-disk size of files
    and directories, the shallow in-memory size of frames and arrays. ``source`` is the
    caller's ``source`` or, for paths, the ``file://`` URI.
    """

    fingerprint: str
    kind: str
    schema: list[dict[str, str]]
    num_rows: int | None
    num_columns: int | None
    profile: dict[str, Any]
    size_bytes: int | None
    source: str | None


def is_dataset_like(obj: Any) -> bool:
    """Whether :func:`fingerprint_dataset` accepts ``obj``; never raises.

    True for DataFrames, Series, numpy arrays and a ``str`` / ``os.PathLike`` naming an
    existing file or directory.
    """
    pd_mod, np_mod = sys.modules.get("pandas"), sys.modules.get("numpy")
    if pd_mod is not None and isinstance(obj, (pd_mod.DataFrame, pd_mod.Series)):
        return True
    if np_mod is not None and isinstance(obj, np_mod.ndarray):
        return True
    path = _as_path(obj)
    try:
        return path is not None and (path.is_file() or path.is_dir())
    except (OSError, ValueError):
        return False


def fingerprint_dataset(
    obj: Any,
    *,
    source: str | None = None,
    profile: bool = True,
    max_profile_columns: int = 200,
) -> DatasetFingerprint:
    """Fingerprint, describe and (optionally) profile a dataset.

    Args:
        obj: A DataFrame, Series, numpy array, or path to an existing file or directory.
        source: Recorded as ``source`` (for paths instead of their ``file://`` URI); it
            never changes the fingerprint.
        profile: Compute per-column statistics; ``False`` leaves ``profile == {}``.
        max_profile_columns: Profile at most this many leading columns.

    Raises:
        InvalidInputError: ``obj`` has an unsupported type, or is a path that does not exist
            or cannot be read.
    """
    if isinstance(max_profile_columns, bool) or not isinstance(max_profile_columns, int):
        raise InvalidInputError("max_profile_columns must be an int")
    if max_profile_columns < 0:
        raise InvalidInputError(f"max_profile_columns must be >= 0, got {max_profile_columns}")
    pd_mod, np_mod = sys.modules.get("pandas"), sys.modules.get("numpy")
    if pd_mod is not None and isinstance(obj, pd_mod.Series):
        obj = obj.to_frame()
    if pd_mod is not None and isinstance(obj, pd_mod.DataFrame):
        return _fingerprint_frame(obj, source, profile, max_profile_columns)
    if np_mod is not None and isinstance(obj, np_mod.ndarray):
        return _fingerprint_array(obj, source, profile, max_profile_columns)
    path = _as_path(obj)
    if path is None:
        raise InvalidInputError(
            f"cannot fingerprint an object of type {type(obj).__name__}: expected {_SUPPORTED}",
            hint="pass the data itself or the path of the file it was read from",
        )
    if path.is_dir():
        return _fingerprint_directory(path, source, profile)
    if path.is_file():
        return _fingerprint_file(path, source, profile, max_profile_columns)
    raise InvalidInputError(
        f"no file or directory at {str(path)!r}: expected {_SUPPORTED}",
        hint="check the path (relative paths resolve against the working directory)",
    )


def _fingerprint_frame(
    df: pd.DataFrame, source: str | None, profile: bool, max_cols: int
) -> DatasetFingerprint:
    import pandas as pd

    levels = [pd.Series(df.index.get_level_values(i), copy=False) for i in range(df.index.nlevels)]
    meta: dict[str, list[Any]] = {"index": [], "columns": []}
    digests: list[bytes] = []
    for part, items in (("index", zip(df.index.names, levels, strict=True)), ("columns", df.items())):
        for name, col in items:
            kind = _canonical_kind(col)
            meta[part].append([_canon_label(name), kind])
            digests.append(_series_digest(col, kind))
    h = hashlib.sha256(_FORMAT)
    h.update(_canonical_json({"kind": "pandas", "shape": list(df.shape), **meta}))
    h.update(b"".join(digests))
    return DatasetFingerprint(
        fingerprint=f"sha256:{h.hexdigest()}",
        kind="pandas",
        schema=_frame_schema(df),
        num_rows=int(df.shape[0]),
        num_columns=int(df.shape[1]),
        profile=_profile_frame(df, max_cols) if profile else {},
        size_bytes=int(df.memory_usage(index=True, deep=False).sum()),
        source=source,
    )


def _canonical_kind(col: pd.Series) -> str:
    """The dtype as hashed: stable across pandas' changing string and datetime defaults."""
    import pandas as pd
    from pandas.api import types as pdt

    dtype = col.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category[ordered]" if dtype.ordered else "category"
    if pdt.is_object_dtype(dtype):
        return "string" if pdt.infer_dtype(col, skipna=True) == "string" else "object"
    if pdt.is_string_dtype(dtype):
        return "string"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return f"datetime64[{dtype.tz}]"
    if pdt.is_datetime64_dtype(dtype) or pdt.is_timedelta64_dtype(dtype):
        return "datetime64" if pdt.is_datetime64_dtype(dtype) else "timedelta64"
    return str(dtype)


def _series_digest(col: pd.Series, kind: str) -> bytes:
    """sha256 of one column's null mask and its per-cell uint64 hashes."""
    import numpy as np
    import pandas as pd
    from pandas.util import hash_pandas_object

    h = hashlib.sha256(np.packbits(col.isna().to_numpy(dtype=bool)).tobytes())
    hashes = None
    if kind != "object":  # object cells (lists, dicts, mixed types) hash by type:repr
        try:
            if kind == "string":  # one representation whatever the string storage
                # pandas-stubs leave None out of na_value's type; pandas takes it (missing -> None)
                values = col.to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]
                col = pd.Series(values, dtype=object, copy=False)
            elif kind.startswith(("datetime64", "timedelta64")):
                col = _as_ns(col)
            hashes = hash_pandas_object(col, index=False, hash_key=_HASH_KEY).to_numpy()
        except _DEGRADE_ERRORS:  # an extension dtype pandas cannot hash
            hashes = None
    if hashes is None:
        reprs = [_tagged_repr(v) for v in col.to_numpy(dtype=object)]
        col = pd.Series(np.array(reprs, dtype=object), dtype=object, copy=False)
        hashes = hash_pandas_object(col, index=False, hash_key=_HASH_KEY).to_numpy()
    h.update(np.ascontiguousarray(hashes, dtype="<u8").data)
    return h.digest()


def _as_ns(col: pd.Series) -> pd.Series:
    try:
        as_ns: pd.Series = col.dt.as_unit("ns")
        return as_ns
    except (ValueError, OverflowError):  # outside the ns range: keep the native unit
        return col


def _py(value: Any) -> Any:
    """A numpy scalar as the equivalent Python scalar (their reprs differ across numpy)."""
    return value.item() if type(value).__module__ == "numpy" and hasattr(value, "item") else value


def _tagged_repr(value: Any) -> str:
    """``type:repr``, so that ``1`` and ``"1"`` differ."""
    value = _py(value)
    return f"{type(value).__qualname__}:{value!r}"


def _canon_label(label: Any) -> Any:
    """A JSON-able, type-tagged form of a column or index label."""
    label = _py(label)
    if isinstance(label, tuple):
        return [_canon_label(part) for part in label]
    if label is None or isinstance(label, (str, bool, int)):
        return [type(label).__name__, label]
    return [type(label).__qualname__, repr(label)]


def _frame_schema(df: pd.DataFrame) -> list[dict[str, str]]:
    return [{"name": str(name), "dtype": str(dtype)} for name, dtype in df.dtypes.items()]


def _profile_frame(df: pd.DataFrame, max_cols: int) -> dict[str, Any]:
    columns: dict[str, dict[str, Any]] = {}
    for position, (name, col) in enumerate(df.iloc[:, :max_cols].items()):
        key = str(name)
        columns[f"{key}#{position}" if key in columns else key] = _profile_column(col)
    return {"columns": columns, "truncated": df.shape[1] > max_cols}


def _profile_column(col: pd.Series) -> dict[str, Any]:
    import numpy as np
    import pandas as pd
    from pandas.api import types as pdt

    dtype = col.dtype
    out: dict[str, Any] = {"dtype": str(dtype), "null_count": int(col.isna().sum())}
    categorical = isinstance(dtype, pd.CategoricalDtype) or pdt.is_bool_dtype(dtype)
    try:
        if categorical or pdt.is_object_dtype(dtype) or pdt.is_string_dtype(dtype):
            out.update(_categorical_stats(col))
        elif pdt.is_datetime64_any_dtype(dtype) or pdt.is_timedelta64_dtype(dtype):
            out["min"], out["max"] = _iso(col.min()), _iso(col.max())
        elif pdt.is_numeric_dtype(dtype) and not pdt.is_complex_dtype(dtype):
            with np.errstate(all="ignore"):  # inf - inf inside std is expected here
                for stat in ("min", "max", "mean", "std"):
                    out[stat] = _finite(getattr(col, stat)())
    except _DEGRADE_ERRORS:
        pass
    return out


def _categorical_stats(col: pd.Series) -> dict[str, Any]:
    try:
        counts = col.value_counts(dropna=True, sort=False)
    except TypeError:  # unhashable cells (lists, dicts): count their reprs
        counts = col.dropna().map(repr).value_counts(sort=False)
    counts = counts[counts > 0].sort_values(ascending=False, kind="stable")
    top = [[str(_py(value)), int(count)] for value, count in counts.head(_TOP_N).items()]
    return {"distinct": int(len(counts)), "top": top}


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):  # pd.NA, NaT, non-numeric
        return None
    return number if math.isfinite(number) else None


def _iso(value: Any) -> str | None:
    import pandas as pd

    return None if value is None or pd.isna(value) else str(value.isoformat())


def _fingerprint_array(
    arr: np.ndarray, source: str | None, profile: bool, max_cols: int
) -> DatasetFingerprint:
    import numpy as np

    little = arr.dtype.newbyteorder("<")
    if little != arr.dtype:
        arr = arr.astype(little)
    dtype_id: Any = arr.dtype.str if arr.dtype.names is None else arr.dtype.descr
    h = hashlib.sha256(_FORMAT)
    h.update(_canonical_json({"kind": "numpy", "dtype": dtype_id, "shape": list(arr.shape)}))
    if arr.dtype.hasobject:
        for value in arr.reshape(-1):
            data = _tagged_repr(value).encode("utf-8", "surrogatepass")
            h.update(len(data).to_bytes(8, "little") + data)
    else:
        flat = np.ascontiguousarray(arr).reshape(-1)
        try:
            h.update(flat.view(np.uint8).data)
        except (TypeError, ValueError):  # zero itemsize and similar oddities
            h.update(flat.tobytes())
    table = arr.ndim == 2 and arr.dtype.names is None
    names = [str(i) for i in range(arr.shape[1])] if table else ["array"]
    return DatasetFingerprint(
        fingerprint=f"sha256:{h.hexdigest()}",
        kind="numpy",
        schema=[{"name": name, "dtype": str(arr.dtype)} for name in names],
        num_rows=int(arr.shape[0]) if arr.ndim else None,
        num_columns=int(arr.shape[1]) if arr.ndim == 2 else (1 if arr.ndim == 1 else None),
        profile=_profile_array(arr, table, max_cols) if profile else {},
        size_bytes=int(arr.nbytes),
        source=source,
    )


def _profile_array(arr: np.ndarray, table: bool, max_cols: int) -> dict[str, Any]:
    import pandas as pd

    if arr.dtype.names is not None:  # structured arrays: schema only
        return {"columns": {}, "truncated": False}
    if table:
        head = arr[:, :max_cols]
        frame = pd.DataFrame(head, columns=[str(i) for i in range(head.shape[1])])
    else:
        frame = pd.DataFrame({"array": arr.reshape(-1)})
    result = _profile_frame(frame, max_cols)
    result["truncated"] = (arr.shape[1] if table else 1) > max_cols
    for stats in result["columns"].values():
        stats["dtype"] = str(arr.dtype)  # the array's dtype, not pandas' conversion of it
    return result


def _as_path(obj: Any) -> Path | None:
    if not isinstance(obj, (str, os.PathLike)):
        return None
    try:
        text = os.fsdecode(os.fspath(obj))
    except TypeError:
        return None
    return Path(text) if text else None


def _hash_file(path: Path) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise InvalidInputError(f"cannot read {str(path)!r}: {exc}") from exc
    return h.hexdigest(), size


def _fingerprint_file(
    path: Path, source: str | None, profile: bool, max_cols: int
) -> DatasetFingerprint:
    digest, size = _hash_file(path)
    schema: list[dict[str, str]] = []
    rows: int | None = None
    cols: int | None = None
    prof: dict[str, Any] = {}
    try:
        schema, rows, cols, prof = _read_table(path, size, profile, max_cols)
    except _READ_ERRORS:  # not the format its name claims: bytes only
        pass
    uri = source if source is not None else path.resolve().as_uri()
    return DatasetFingerprint(f"sha256:{digest}", "file", schema, rows, cols, prof, size, uri)


def _read_table(
    path: Path, size: int, profile: bool, max_cols: int
) -> tuple[list[dict[str, str]], int | None, int | None, dict[str, Any]]:
    """Schema, rows, columns and profile of a CSV/TSV/parquet file (nothing for others).

    Parquet row count and schema come from the footer; CSVs below the size limit are read
    in full, larger ones only sampled for their schema. Only small files are profiled.
    """
    suffix = path.suffix.lower()
    small = size < _PROFILE_LIMIT_BYTES
    if suffix not in (".csv", ".tsv", ".parquet", ".pq"):
        return [], None, None, {}
    import pandas as pd

    rows: int | None = None
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        with pq.ParquetFile(path) as parquet:
            rows = int(parquet.metadata.num_rows)
            frame = parquet.schema_arrow.empty_table().to_pandas()
        data = pd.read_parquet(path) if profile and small else None
    else:
        sep = "\t" if suffix == ".tsv" else ","
        frame = data = pd.read_csv(path, sep=sep, nrows=None if small else _SAMPLE_ROWS)
        if small:
            rows = int(frame.shape[0])
    prof = _profile_frame(data, max_cols) if profile and small and data is not None else {}
    return _frame_schema(frame), rows, int(frame.shape[1]), prof


def _fingerprint_directory(path: Path, source: str | None, profile: bool) -> DatasetFingerprint:
    entries: list[tuple[bytes, Path]] = []
    for root, _dirs, files in os.walk(path):
        for name in files:
            full = Path(root, name)
            if full.is_file():  # skips broken links, sockets, fifos
                rel = full.relative_to(path).as_posix().encode("utf-8", "surrogateescape")
                entries.append((rel, full))
    entries.sort(key=lambda entry: entry[0])
    h, total = hashlib.sha256(b"trackflow-directory-v1\n"), 0
    for rel, full in entries:
        digest, size = _hash_file(full)
        h.update(len(rel).to_bytes(8, "little") + rel + bytes.fromhex(digest))
        total += size
    uri = source if source is not None else path.resolve().as_uri()
    prof: dict[str, Any] = {"file_count": len(entries)} if profile else {}
    digest = f"sha256:{h.hexdigest()}"
    return DatasetFingerprint(digest, "directory", [], None, None, prof, total, uri)


def _canonical_json(value: Any) -> bytes:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return text.encode("ascii")
