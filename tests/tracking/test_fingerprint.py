"""Tests for trackflow.tracking.fingerprint."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trackflow.exceptions import InvalidInputError
from trackflow.tracking import fingerprint as fingerprint_module
from trackflow.tracking.fingerprint import (
    DatasetFingerprint,
    fingerprint_dataset,
    is_dataset_like,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": [1, 2, 3, 4],
            "y": [0.5, 1.5, float("nan"), 3.5],
            "name": ["a", "b", "c", "a"],
        }
    )


def _fp(obj: object) -> str:
    return fingerprint_dataset(obj, profile=False).fingerprint


# --------------------------------------------------------------------------- identity


def test_same_content_in_separate_frames_gives_same_fingerprint() -> None:
    first, second = _frame(), _frame()
    assert first is not second
    result = fingerprint_dataset(first)
    assert result.fingerprint == fingerprint_dataset(second).fingerprint
    assert result.fingerprint.startswith("sha256:")
    assert len(result.fingerprint) == len("sha256:") + 64
    assert result.kind == "pandas"
    assert (result.num_rows, result.num_columns) == (4, 3)
    assert [c["name"] for c in result.schema] == ["x", "y", "name"]
    assert result.schema[0]["dtype"] == "int64"
    assert result.source is None
    assert result.size_bytes is not None and result.size_bytes > 0


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda df: df.assign(y=[0.5, 1.5, float("nan"), 3.25]), id="float-cell"),
        pytest.param(lambda df: df.assign(name=["a", "b", "c", "b"]), id="string-cell"),
        pytest.param(lambda df: df.assign(y=[0.5, 1.5, 2.0, 3.5]), id="nan-filled"),
        pytest.param(lambda df: df.rename(columns={"x": "z"}), id="renamed-column"),
        pytest.param(lambda df: df.astype({"x": "float64"}), id="int-to-float"),
        pytest.param(lambda df: df.astype({"name": "category"}), id="to-category"),
        pytest.param(lambda df: df.iloc[::-1], id="row-order"),
        pytest.param(lambda df: df.iloc[::-1].reset_index(drop=True), id="row-order-new-index"),
        pytest.param(lambda df: df[["y", "x", "name"]], id="column-order"),
        pytest.param(lambda df: df.set_axis([10, 11, 12, 13]), id="index-values"),
        pytest.param(lambda df: df.rename_axis("row"), id="index-name"),
        pytest.param(lambda df: df.iloc[:3], id="dropped-row"),
        pytest.param(lambda df: df.assign(extra=1), id="added-column"),
    ],
)
def test_any_change_changes_fingerprint(change: object) -> None:
    base = _frame()
    changed = change(_frame())  # type: ignore[operator]
    assert _fp(changed) != _fp(base)


def test_null_differs_from_the_string_none_and_int_from_str() -> None:
    with_null = pd.DataFrame({"s": pd.Series(["a", None], dtype=object)})
    with_text = pd.DataFrame({"s": pd.Series(["a", "None"], dtype=object)})
    assert _fp(with_null) != _fp(with_text)
    mixed_int = pd.DataFrame({"m": pd.Series([1, "x"], dtype=object)})
    mixed_str = pd.DataFrame({"m": pd.Series(["1", "x"], dtype=object)})
    assert _fp(mixed_int) != _fp(mixed_str)


def test_text_fingerprint_does_not_depend_on_string_storage_dtype() -> None:
    as_object = pd.DataFrame({"s": pd.Series(["a", None, "c"], dtype=object)})
    as_string = pd.DataFrame({"s": pd.Series(["a", None, "c"], dtype="string")})
    assert _fp(as_object) == _fp(as_string)


def test_datetime_fingerprint_does_not_depend_on_unit() -> None:
    stamps = ["2024-01-01T00:00:01", "2024-06-30T12:00:00"]
    in_ns = pd.DataFrame({"t": pd.to_datetime(stamps).as_unit("ns")})
    in_us = pd.DataFrame({"t": pd.to_datetime(stamps).as_unit("us")})
    assert _fp(in_ns) == _fp(in_us)
    later = pd.DataFrame({"t": pd.to_datetime([stamps[0], "2024-06-30T12:00:01"])})
    assert _fp(later) != _fp(in_ns)


def test_series_is_a_one_column_frame() -> None:
    series = pd.Series([1.0, 2.0, 3.0], name="v")
    result = fingerprint_dataset(series)
    assert result.fingerprint == fingerprint_dataset(series.to_frame()).fingerprint
    assert result.schema == [{"name": "v", "dtype": "float64"}]
    assert (result.num_rows, result.num_columns) == (3, 1)
    assert result.profile["columns"]["v"]["max"] == 3.0


# Pinned output of format v1; if this changes, stored fingerprints stop matching.
PINNED_FRAME_HEX = "66a3bcc0bc7f0b31795176af8b9bd5cbaad0df4d63213cfff94b942fabdeaf7e"


def test_pinned_fingerprint_value_is_stable() -> None:
    """Stored fingerprints must keep matching: this value is part of the format (v1)."""
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, None, 2.5], "c": ["x", None, "z"]})
    expected = "sha256:" + PINNED_FRAME_HEX
    assert fingerprint_dataset(frame).fingerprint == expected


_SUBPROCESS_CODE = """
import pandas as pd
from trackflow.tracking.fingerprint import fingerprint_dataset
frame = pd.DataFrame({
    "num": [1.5, None, 3.25],
    "text": ["alpha", None, "gamma"],
    "cat": pd.Categorical(["u", "v", "u"]),
    "when": pd.to_datetime(["2024-01-01", None, "2024-03-01"]),
    "items": [[1, 2], {"k": "v"}, None],
}, index=pd.Index(["r1", "r2", "r3"], name="row"))
"""


_PRINT = "print(fingerprint_dataset(frame).fingerprint)\n"


def test_fingerprint_is_stable_across_processes_and_hash_seeds() -> None:
    namespace: dict[str, object] = {}
    exec(compile(_SUBPROCESS_CODE, "<frame>", "exec"), namespace)  # noqa: S102 - test-owned
    in_process = fingerprint_dataset(namespace["frame"]).fingerprint
    outputs = []
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO_ROOT)}
        done = subprocess.run(
            [sys.executable, "-c", _SUBPROCESS_CODE + _PRINT],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        outputs.append(done.stdout.strip())
    assert outputs == [in_process, in_process]


# --------------------------------------------------------------------------- profile


def test_profile_of_mixed_frame_is_json_safe_and_correct() -> None:
    frame = pd.DataFrame(
        {
            "num": [1.0, float("nan"), 3.0, float("inf")],
            "ints": [4, 1, 7, 2],
            "text": ["b", None, "b", "a"],
            "cat": pd.Categorical(["u", "v", None, "u"], categories=["u", "v", "w"]),
            "when": pd.to_datetime(["2024-01-05", None, "2023-12-31", "2024-02-01"]),
            "flag": [True, False, True, True],
            "items": [[1, 2], {"k": 1}, None, [1, 2]],
            "allnan": [float("nan")] * 4,
        }
    )
    result = fingerprint_dataset(frame)
    json.dumps(dataclasses.asdict(result), allow_nan=False)
    cols = result.profile["columns"]
    assert result.profile["truncated"] is False
    assert cols["num"]["null_count"] == 1
    assert cols["num"]["min"] == 1.0
    assert cols["num"]["max"] is None  # inf -> None
    assert cols["ints"] == {
        "dtype": "int64",
        "null_count": 0,
        "min": 1.0,
        "max": 7.0,
        "mean": 3.5,
        "std": pytest.approx(float(np.std([4, 1, 7, 2], ddof=1))),
    }
    assert cols["text"]["null_count"] == 1
    assert cols["text"]["distinct"] == 2
    assert cols["text"]["top"] == [["b", 2], ["a", 1]]
    assert cols["cat"]["null_count"] == 1
    assert cols["cat"]["distinct"] == 2  # the unused category "w" is not counted
    assert cols["cat"]["top"] == [["u", 2], ["v", 1]]
    assert cols["when"]["null_count"] == 1
    assert cols["when"]["min"] == "2023-12-31T00:00:00"
    assert cols["when"]["max"] == "2024-02-01T00:00:00"
    assert cols["flag"]["top"] == [["True", 3], ["False", 1]]
    assert "mean" not in cols["flag"]  # bools are categorical
    assert cols["items"]["null_count"] == 1
    assert cols["items"]["top"][0] == ["[1, 2]", 2]
    assert cols["allnan"]["null_count"] == 4
    assert cols["allnan"]["min"] is None and cols["allnan"]["std"] is None


def test_top_keeps_five_most_frequent_values() -> None:
    values = ["a"] * 6 + ["b"] * 5 + ["c"] * 4 + ["d"] * 3 + ["e"] * 2 + ["f"]
    column = fingerprint_dataset(pd.Series(values, name="v")).profile["columns"]["v"]
    assert column["distinct"] == 6
    assert column["top"] == [["a", 6], ["b", 5], ["c", 4], ["d", 3], ["e", 2]]


def test_profile_respects_max_columns_and_can_be_disabled() -> None:
    wide = pd.DataFrame({f"c{i}": [i, i + 1] for i in range(5)})
    limited = fingerprint_dataset(wide, max_profile_columns=2)
    assert list(limited.profile["columns"]) == ["c0", "c1"]
    assert limited.profile["truncated"] is True
    assert len(limited.schema) == 5
    assert fingerprint_dataset(wide, profile=False).profile == {}
    assert limited.fingerprint == fingerprint_dataset(wide, profile=False).fingerprint
    with pytest.raises(InvalidInputError):
        fingerprint_dataset(wide, max_profile_columns=-1)


def test_large_float_frame_is_hashed_whole_columns_once_and_profiled_without_counting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What keeps a big numeric frame fast, counted instead of timed (timings live in
    benchmarks/): the index and each column go through pandas' vectorised hash once, whole and
    in their own dtype (never cell by cell, never as object reprs), and float columns get
    min/max/mean/std without a value count."""
    import pandas.util

    rows = 200_000
    frame = pd.DataFrame(np.random.default_rng(7).normal(size=(rows, 10)), columns=[f"f{i}" for i in range(10)])
    hashed: list[tuple[str, int]] = []
    counted: list[object] = []
    real_hash, real_value_counts = pandas.util.hash_pandas_object, pd.Series.value_counts

    def counting_hash(obj: pd.Series, *args: object, **kwargs: object) -> pd.Series:
        hashed.append((str(obj.dtype), len(obj)))
        return real_hash(obj, *args, **kwargs)

    def counting_value_counts(self: pd.Series, *args: object, **kwargs: object) -> pd.Series:
        counted.append(self.name)
        return real_value_counts(self, *args, **kwargs)

    monkeypatch.setattr(pandas.util, "hash_pandas_object", counting_hash)
    monkeypatch.setattr(pd.Series, "value_counts", counting_value_counts)
    result = fingerprint_dataset(frame)
    assert hashed == [("int64", rows)] + [("float64", rows)] * 10  # the RangeIndex, then f0..f9
    assert counted == []
    assert result.num_rows == rows and list(result.profile["columns"]) == list(frame.columns)
    assert all(set(column) == {"dtype", "null_count", "min", "max", "mean", "std"}
               for column in result.profile["columns"].values())
    monkeypatch.undo()
    assert result.fingerprint == fingerprint_dataset(frame, profile=False).fingerprint


# --------------------------------------------------------------------------- numpy


def test_numpy_one_dimensional_array() -> None:
    arr = np.array([3.0, 1.0, np.nan, 2.0])
    result = fingerprint_dataset(arr)
    assert result.kind == "numpy"
    assert result.schema == [{"name": "array", "dtype": "float64"}]
    assert (result.num_rows, result.num_columns) == (4, 1)
    assert result.size_bytes == 32
    assert result.profile["columns"]["array"]["null_count"] == 1
    assert result.profile["columns"]["array"]["min"] == 1.0
    json.dumps(result.profile, allow_nan=False)
    assert result.fingerprint == fingerprint_dataset(arr.copy()).fingerprint
    changed = arr.copy()
    changed[0] = 4.0
    assert fingerprint_dataset(changed).fingerprint != result.fingerprint
    assert fingerprint_dataset(arr.astype(np.float32)).fingerprint != result.fingerprint


def test_numpy_two_dimensional_array() -> None:
    arr = np.arange(12, dtype=np.int64).reshape(4, 3)
    result = fingerprint_dataset(arr)
    assert result.schema == [{"name": str(i), "dtype": "int64"} for i in range(3)]
    assert (result.num_rows, result.num_columns) == (4, 3)
    assert result.profile["columns"]["2"]["max"] == 11.0
    # Same bytes, other shape -> other fingerprint; layout (Fortran order) does not matter.
    assert fingerprint_dataset(arr.reshape(3, 4)).fingerprint != result.fingerprint
    assert fingerprint_dataset(np.asfortranarray(arr)).fingerprint == result.fingerprint
    big_endian = arr.astype(">i8")
    assert fingerprint_dataset(big_endian).fingerprint == result.fingerprint


def test_numpy_profile_reports_the_array_dtype() -> None:
    result = fingerprint_dataset(np.array(["a", "bb", "a"]))
    column = result.profile["columns"]["array"]
    assert column["dtype"] == result.schema[0]["dtype"] == "<U2"
    assert column["top"] == [["a", 2], ["bb", 1]]


def test_multiindex_and_timezone_are_part_of_the_fingerprint() -> None:
    index = pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["key", "n"])
    frame = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=2, tz="UTC")}, index=index)
    other_index = pd.MultiIndex.from_tuples([("a", 1), ("b", 3)], names=["key", "n"])
    other_level = frame.set_axis(other_index)
    other_zone = frame.assign(t=frame["t"].dt.tz_convert("Europe/Paris"))
    assert _fp(frame) == _fp(frame.copy())
    assert len({_fp(frame), _fp(other_level), _fp(other_zone)}) == 3


def test_numpy_object_array_uses_element_reprs() -> None:
    first = np.array([[1], "a", None], dtype=object)
    second = np.array([[1], "a", None], dtype=object)
    third = np.array([[2], "a", None], dtype=object)
    assert _fp(first) == _fp(second)
    assert _fp(first) != _fp(third)


# --------------------------------------------------------------------------- files


def test_csv_file_fingerprint_is_byte_hash(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    _frame().to_csv(path, index=False)
    result = fingerprint_dataset(path)
    assert result.kind == "file"
    assert result.fingerprint == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert result.size_bytes == path.stat().st_size
    assert result.source == path.resolve().as_uri()
    assert [c["name"] for c in result.schema] == ["x", "y", "name"]
    assert (result.num_rows, result.num_columns) == (4, 3)
    assert result.profile["columns"]["y"]["null_count"] == 1
    assert fingerprint_dataset(str(path), source="s3://b/data.csv").source == "s3://b/data.csv"
    path.write_text(path.read_text().replace("3.5", "3.6"))
    assert fingerprint_dataset(path).fingerprint != result.fingerprint


def test_parquet_file_reads_schema_from_metadata(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    _frame().to_parquet(path)
    result = fingerprint_dataset(path)
    assert result.fingerprint == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert [c["name"] for c in result.schema] == ["x", "y", "name"]
    assert result.schema[0]["dtype"] == "int64"
    assert (result.num_rows, result.num_columns) == (4, 3)
    assert result.profile["columns"]["x"]["max"] == 4.0


def test_large_csv_is_only_sampled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.csv"
    _frame().to_csv(path, index=False)
    monkeypatch.setattr(fingerprint_module, "_PROFILE_LIMIT_BYTES", 10)
    result = fingerprint_dataset(path)
    assert result.fingerprint == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert [c["name"] for c in result.schema] == ["x", "y", "name"]
    assert (result.num_rows, result.num_columns, result.profile) == (None, 3, {})


def test_unparseable_or_unknown_files_still_fingerprint(tmp_path: Path) -> None:
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    result = fingerprint_dataset(broken)
    assert result.fingerprint == "sha256:" + hashlib.sha256(b"not parquet at all").hexdigest()
    assert (result.schema, result.num_rows, result.profile) == ([], None, {})
    blob = tmp_path / "weights.bin"
    blob.write_bytes(b"\x00\x01")
    assert fingerprint_dataset(blob).schema == []


def test_directory_fingerprint_tracks_content_and_names(tmp_path: Path) -> None:
    def build(root: Path, payload: bytes = b"one") -> Path:
        (root / "sub").mkdir(parents=True)
        (root / "a.txt").write_bytes(payload)
        (root / "sub" / "b.csv").write_bytes(b"x\n1\n")
        return root

    first = fingerprint_dataset(build(tmp_path / "d1"))
    second = fingerprint_dataset(build(tmp_path / "d2"))
    assert first.kind == "directory"
    assert first.fingerprint == second.fingerprint
    assert first.size_bytes == 3 + 4
    assert first.profile == {"file_count": 2}
    (tmp_path / "d2" / "sub" / "b.csv").write_bytes(b"x\n2\n")
    assert fingerprint_dataset(tmp_path / "d2").fingerprint != first.fingerprint
    (tmp_path / "d1" / "a.txt").rename(tmp_path / "d1" / "c.txt")
    assert fingerprint_dataset(tmp_path / "d1").fingerprint != first.fingerprint


# --------------------------------------------------------------------------- inputs


@pytest.mark.parametrize("bad", ["no/such/file.csv", object(), 42, b"bytes", ""])
def test_bad_input_raises_invalid_input(bad: object) -> None:
    with pytest.raises(InvalidInputError) as info:
        fingerprint_dataset(bad)
    assert "DataFrame" in str(info.value)
    assert not is_dataset_like(bad)


def test_is_dataset_like(tmp_path: Path) -> None:
    file = tmp_path / "f.csv"
    file.write_text("a\n1\n")
    assert is_dataset_like(_frame())
    assert is_dataset_like(pd.Series([1]))
    assert is_dataset_like(np.zeros(2))
    assert is_dataset_like(file) and is_dataset_like(str(file))
    assert is_dataset_like(tmp_path)
    assert not is_dataset_like(str(tmp_path / "missing.csv"))
    assert not is_dataset_like([1, 2, 3])


def test_result_is_frozen() -> None:
    result = fingerprint_dataset(_frame())
    assert isinstance(result, DatasetFingerprint)
    with pytest.raises(AttributeError):
        result.kind = "numpy"  # type: ignore[misc]
