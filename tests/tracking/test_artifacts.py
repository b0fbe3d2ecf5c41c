"""Tests for trackflow.tracking.artifacts (local and memory:// roots)."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFile, MemoryFileSystem

from trackflow.exceptions import InvalidInputError, NotFoundError
from trackflow.tracking.artifacts import ArtifactStore, StoredFile, validate_artifact_path


# --------------------------------------------------------------------------- fixtures
@pytest.fixture
def local_store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(str(tmp_path / "root"))


@pytest.fixture
def memory_store() -> Iterator[ArtifactStore]:
    bucket = f"tf-test-{uuid.uuid4().hex}"
    yield ArtifactStore(f"memory://{bucket}/root")
    fs = fsspec.filesystem("memory")
    if fs.exists(f"/{bucket}"):
        fs.rm(f"/{bucket}", recursive=True)


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest) -> ArtifactStore:
    chosen: ArtifactStore = request.getfixturevalue(f"{request.param}_store")
    return chosen


def raw_files(store: ArtifactStore) -> set[str]:
    """Every file under the root as the filesystem sees it, hidden temp files included."""
    fs, base = fsspec.core.url_to_fs(store.root_uri)
    if not fs.exists(base):
        return set()
    return {str(p)[len(base.rstrip("/")) + 1 :] for p in fs.find(base, withdirs=False)}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_tree(folder: Path) -> dict[str, bytes]:
    files = {
        "model.pkl": b"\x00\x01payload" * 100,
        "MLmodel.yaml": b"flavor: sklearn\n",
        "meta/classes.json": b'["a", "b"]',
        "meta/deep/notes.md": b"# notes\n",
    }
    for rel, data in files.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return files


BIG = 3 * 1024 * 1024  # several copy chunks: such a file is written in more than one write


class RecordingMemoryFileSystem(MemoryFileSystem):
    """``recording-memory://``: memory:// that records every write (file, size) and, when
    ``full`` is set, fails the second write into any file after half of it, as a full disk
    would. An fsspec filesystem like any other, so the store is tested through its public API."""

    protocol = ("recording-memory",)
    writes: ClassVar[list[tuple[str, int]]] = []
    full: ClassVar[bool] = False

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        return super()._strip_protocol(path.removeprefix("recording-memory://") if isinstance(path, str) else path)

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        handle = super()._open(path, mode, **kwargs)
        if mode not in {"wb", "xb"}:
            return handle
        recording = _RecordingFile(self, handle.path)
        recording.commit()
        return recording


class _RecordingFile(MemoryFile):
    def write(self, data: Any) -> int:
        chunk = bytes(data)
        RecordingMemoryFileSystem.writes.append((self.path, len(chunk)))
        if RecordingMemoryFileSystem.full and sum(p == self.path for p, _ in RecordingMemoryFileSystem.writes) > 1:
            super().write(chunk[: len(chunk) // 2])
            raise OSError(errno.ENOSPC, "simulated: no space left on device mid-copy")
        return super().write(chunk)


fsspec.register_implementation("recording-memory", RecordingMemoryFileSystem, clobber=True)


@pytest.fixture
def recording_store() -> Iterator[ArtifactStore]:
    bucket = f"tf-test-{uuid.uuid4().hex}"
    RecordingMemoryFileSystem.writes, RecordingMemoryFileSystem.full = [], False
    yield ArtifactStore(f"recording-memory://{bucket}/root")
    RecordingMemoryFileSystem.full = False
    fs = fsspec.filesystem("memory")
    if fs.exists(f"/{bucket}"):
        fs.rm(f"/{bucket}", recursive=True)


# A local disk that fills up: the same calls in a child process whose files may not grow past
# 1.5 MiB (RLIMIT_FSIZE; SIGXFSZ ignored, so the write fails with EFBIG like a full disk).
DISK_FULL = """
import resource, signal, sys
from pathlib import Path
from trackflow.tracking.artifacts import ArtifactStore
root, method, source, key = sys.argv[1:]
store = ArtifactStore(root)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (3 * 512 * 1024, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
try:
    if method == "put_bytes":
        store.put_bytes(Path(source).read_bytes(), key)
    else:
        getattr(store, method)(source, key)
except OSError as exc:
    print("OSError", exc)
else:
    print("written")
"""


def write_on_full_disk(store: ArtifactStore, method: str, source: Path, key: str) -> None:
    """Call ``store.<method>(source, key)`` where no file can grow past 1.5 MiB; expect OSError."""
    if store.local_path("") is None:
        RecordingMemoryFileSystem.writes.clear()
        RecordingMemoryFileSystem.full = True
        with pytest.raises(OSError, match="no space left"):
            if method == "put_bytes":
                store.put_bytes(source.read_bytes(), key)
            else:
                getattr(store, method)(source, key)
        return
    done = subprocess.run([sys.executable, "-c", DISK_FULL, str(store.local_path("")), method, str(source), key],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OSError") and "too large" in done.stdout.lower(), done.stdout


# --------------------------------------------------------------------------- round trips
def test_put_bytes_round_trip(store: ArtifactStore) -> None:
    data = b'{"classes": ["cat", "dog"]}'
    stored = store.put_bytes(data, "abc123/meta/classes.json")
    assert stored == StoredFile(
        path="abc123/meta/classes.json",
        uri=store.root_uri + "/abc123/meta/classes.json",
        sha256=sha(data),
        size=len(data),
        media_type="application/json",
    )
    assert store.read_bytes("abc123/meta/classes.json") == data
    assert store.exists("abc123/meta/classes.json") and store.exists("abc123")
    assert not store.exists("abc123/other")
    assert store.list() == ["abc123/meta/classes.json"]


def test_put_file_streams_in_chunks(local_store: ArtifactStore, tmp_path: Path) -> None:
    """A local copy never holds the whole file in memory."""
    data = os.urandom(8 * BIG)
    source = tmp_path / "weights.bin"
    source.write_bytes(data)
    tracemalloc.start()
    try:
        stored = local_store.put_file(source, "run/weights.bin")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < BIG, f"peak {peak} bytes while storing {len(data)}"
    assert (stored.sha256, stored.size) == (sha(data), len(data))
    assert stored.media_type == "application/octet-stream"
    assert local_store.read_bytes("run/weights.bin") == data


def test_put_file_writes_an_fsspec_root_in_chunks(recording_store: ArtifactStore, tmp_path: Path) -> None:
    data = os.urandom(BIG)
    source = tmp_path / "weights.bin"
    source.write_bytes(data)
    stored = recording_store.put_file(source, "run/weights.bin")
    sizes = [size for _, size in RecordingMemoryFileSystem.writes]
    assert len(sizes) > 1 and max(sizes) < len(data) and sum(sizes) == len(data)
    assert (stored.sha256, stored.size) == (sha(data), len(data))
    assert recording_store.read_bytes("run/weights.bin") == data


def test_put_tree_round_trip(store: ArtifactStore, tmp_path: Path) -> None:
    files = make_tree(tmp_path / "model")
    stored = store.put_tree(tmp_path / "model", "run1/model")
    assert [s.path for s in stored] == sorted(f"run1/model/{rel}" for rel in files)
    for item in stored:
        data = files[item.path.removeprefix("run1/model/")]
        assert (item.sha256, item.size, item.uri) == (sha(data), len(data), store.uri_for(item.path))
        assert store.read_bytes(item.path) == data
    assert store.list("run1/model") == [s.path for s in stored]
    assert store.list("run1/model/meta") == ["run1/model/meta/classes.json", "run1/model/meta/deep/notes.md"]
    assert {s.path: s.media_type for s in stored}["run1/model/meta/deep/notes.md"] == "text/markdown"


def test_put_tree_at_root_prefix(store: ArtifactStore, tmp_path: Path) -> None:
    files = make_tree(tmp_path / "model")
    stored = store.put_tree(tmp_path / "model", "")
    assert sorted(s.path for s in stored) == sorted(files)
    assert store.list() == sorted(files)


def test_overwrite_replaces_content(store: ArtifactStore) -> None:
    store.put_bytes(b"v1", "run/a.txt")
    stored = store.put_bytes(b"version-2", "run/a.txt")
    assert store.read_bytes("run/a.txt") == b"version-2"
    assert stored.size == 9 and store.list() == ["run/a.txt"]


@pytest.mark.parametrize(
    ("key", "media_type"),
    [
        ("a.json", "application/json"),
        ("a.JSON", "application/json"),
        ("a.yaml", "application/yaml"),
        ("a.yml", "application/yaml"),
        ("README.md", "text/markdown"),
        ("plot.png", "image/png"),
        ("data.csv", "text/csv"),
        ("blob", "application/octet-stream"),
        ("model.unknownext", "application/octet-stream"),
        ("data.csv.gz", "application/gzip"),
    ],
)
def test_media_type(local_store: ArtifactStore, key: str, media_type: str) -> None:
    assert local_store.put_bytes(b"x", f"run/{key}").media_type == media_type


def test_download_folder(store: ArtifactStore, tmp_path: Path) -> None:
    files = make_tree(tmp_path / "model")
    store.put_tree(tmp_path / "model", "run1/model")
    store.put_bytes(b"other", "run1/other.txt")
    result = store.download("run1/model", tmp_path / "dl")
    assert result == (tmp_path / "dl" / "run1" / "model").resolve()
    got = {p.relative_to(result).as_posix(): p.read_bytes() for p in result.rglob("*") if p.is_file()}
    assert got == files
    assert not (tmp_path / "dl" / "run1" / "other.txt").exists()


def test_download_single_file(store: ArtifactStore, tmp_path: Path) -> None:
    store.put_bytes(b"[1, 2]", "run1/meta/classes.json")
    result = store.download("run1/meta/classes.json", tmp_path / "dl")
    assert result == (tmp_path / "dl" / "run1" / "meta" / "classes.json").resolve()
    assert result.read_bytes() == b"[1, 2]"
    assert [p.name for p in result.parent.iterdir()] == ["classes.json"]


def test_download_missing_raises(store: ArtifactStore, tmp_path: Path) -> None:
    store.put_bytes(b"x", "run1/a.txt")
    with pytest.raises(NotFoundError):
        store.download("run2", tmp_path / "dl")
    assert not (tmp_path / "dl").exists()


def test_read_missing_names_key_and_root(store: ArtifactStore) -> None:
    store.put_bytes(b"x", "run1/a.txt")
    with pytest.raises(NotFoundError) as info:
        store.read_bytes("run1/b.txt")
    assert "run1/b.txt" in str(info.value) and store.root_uri in str(info.value)
    with pytest.raises(NotFoundError):
        store.read_bytes("run1")  # a folder is not a file


def test_list_respects_segment_boundaries(store: ArtifactStore) -> None:
    store.put_bytes(b"1", "a/x")
    store.put_bytes(b"2", "ab/y")
    assert store.list("a") == ["a/x"]
    assert store.list("a/x") == ["a/x"]
    assert store.list("") == ["a/x", "ab/y"]
    assert store.list("nope") == []


def test_list_hides_temp_files(store: ArtifactStore) -> None:
    store.put_bytes(b"1", "run/a.txt")
    fs, base = fsspec.core.url_to_fs(store.root_uri)
    fs.pipe(f"{base}/run/.a.txt.tmp-{uuid.uuid4().hex}", b"partial")
    assert len(raw_files(store)) == 2
    assert store.list() == ["run/a.txt"]


# --------------------------------------------------------------------------- roots and addressing
def test_local_root_forms(tmp_path: Path) -> None:
    root = (tmp_path / "r").resolve()
    plain = ArtifactStore(str(tmp_path / "r"))
    assert plain.root_uri == f"file://{root.as_posix()}"
    assert ArtifactStore(f"file://{root.as_posix()}/").root_uri == plain.root_uri
    assert ArtifactStore(tmp_path / "r").root_uri == plain.root_uri
    assert plain.local_path("run/a.txt") == root / "run" / "a.txt"
    assert plain.uri_for("run/a.txt") == f"file://{root.as_posix()}/run/a.txt"
    assert not root.exists()  # created lazily
    plain.put_bytes(b"x", "run/a.txt")
    assert (root / "run" / "a.txt").read_bytes() == b"x"


def test_memory_root_forms(memory_store: ArtifactStore) -> None:
    assert memory_store.root_uri.startswith("memory://tf-test-")
    assert memory_store.local_path("run/a.txt") is None
    stored = memory_store.put_bytes(b"x", "run/a.txt")
    with fsspec.open(stored.uri, "rb") as handle:
        assert handle.read() == b"x"


@pytest.mark.parametrize("root", ["", "   ", "nosuchprotocol-xyz://bucket/x"])
def test_invalid_root(root: str) -> None:
    with pytest.raises(InvalidInputError):
        ArtifactStore(root)


# --------------------------------------------------------------------------- path validation
BAD_PATHS = [
    pytest.param("", id="empty"),
    pytest.param("..", id="dotdot"),
    pytest.param("../x", id="dotdot-prefix"),
    pytest.param("a/../b", id="dotdot-middle"),
    pytest.param("a/..", id="dotdot-end"),
    pytest.param(".", id="dot"),
    pytest.param("./a", id="dot-prefix"),
    pytest.param("a/./b", id="dot-middle"),
    pytest.param("/abs", id="absolute"),
    pytest.param("/", id="slash"),
    pytest.param("a\\b", id="backslash"),
    pytest.param("..\\x", id="backslash-traversal"),
    pytest.param("C:", id="drive"),
    pytest.param("c:/x", id="drive-lower"),
    pytest.param("C:foo", id="drive-relative"),
    pytest.param("%2e%2e/x", id="encoded-dotdot"),
    pytest.param("%2E%2e/x", id="encoded-dotdot-mixed-case"),
    pytest.param("%252e%252e/x", id="double-encoded-dotdot"),
    pytest.param("a%2fb", id="encoded-slash"),
    pytest.param("a%2Fb", id="encoded-slash-upper"),
    pytest.param("a%5cb", id="encoded-backslash"),
    pytest.param("a#frag", id="fragment"),
    pytest.param("a;b", id="semicolon"),
    pytest.param("a?b=1", id="query"),
    pytest.param("a\x00b", id="nul"),
    pytest.param("a\nb", id="newline"),
    pytest.param("a\tb", id="tab"),
    pytest.param("a\x7fb", id="del"),
    pytest.param("a\x85b", id="c1-control"),
    pytest.param("a\udcffb", id="lone-surrogate"),
    pytest.param("a//b", id="empty-segment"),
    pytest.param("//a", id="double-slash-prefix"),
    pytest.param("a//", id="double-trailing-slash"),
    pytest.param("file:///etc/passwd", id="file-url"),
    pytest.param("file:x", id="file-scheme"),
    pytest.param("s3://bucket/x", id="s3-url"),
    pytest.param("memory://b/x", id="memory-url"),
    pytest.param("a" * 256, id="long-segment"),
    pytest.param("run/" + "é" * 128, id="long-segment-utf8-bytes"),
    pytest.param("/".join(["abcd"] * 210), id="long-path"),
    pytest.param(f"run/.a.txt.tmp-{'0' * 32}", id="reserved-temp-name"),
]


@pytest.mark.parametrize("bad", BAD_PATHS)
def test_validate_rejects(bad: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        validate_artifact_path(bad)
    assert repr(bad) in str(info.value)


# An empty prefix is valid for put_tree (it stores at the root), so that one case is left out.
WRITE_CASES = [
    pytest.param(method, *case.values, id=f"{method}-{case.id}")
    for method in ("put_bytes", "put_file", "put_tree")
    for case in BAD_PATHS
    if not (method == "put_tree" and case.values == ("",))
]


@pytest.mark.parametrize(("method", "bad"), WRITE_CASES)
def test_writes_reject_bad_paths_and_write_nothing(
    store: ArtifactStore, tmp_path: Path, method: str, bad: str
) -> None:
    store.put_bytes(b"keep", "existing/file.txt")
    before = raw_files(store)
    source = tmp_path / "src.txt"
    source.write_bytes(b"data")
    make_tree(tmp_path / "tree")
    with pytest.raises(InvalidInputError) as info:
        if method == "put_bytes":
            store.put_bytes(b"data", bad)
        elif method == "put_file":
            store.put_file(source, bad)
        else:
            store.put_tree(tmp_path / "tree", bad)
    assert repr(bad) in str(info.value)
    assert raw_files(store) == before == {"existing/file.txt"}


@pytest.mark.parametrize("bad", ["../x", "a/../../etc/passwd", "/etc/passwd", "%2e%2e", "a#b", "file:///etc"])
def test_other_methods_reject_bad_paths(store: ArtifactStore, tmp_path: Path, bad: str) -> None:
    store.put_bytes(b"keep", "existing/file.txt")
    calls = [
        lambda: store.read_bytes(bad),
        lambda: store.exists(bad),
        lambda: store.list(bad),
        lambda: store.delete(bad),
        lambda: store.uri_for(bad),
        lambda: store.local_path(bad),
        lambda: store.download(bad, tmp_path / "dl"),
        lambda: store.plan_tree(tmp_path, bad),
    ]
    for call in calls:
        with pytest.raises(InvalidInputError):
            call()
    assert raw_files(store) == {"existing/file.txt"}
    assert not (tmp_path / "dl").exists()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a/b.json", "a/b.json"),
        ("a/b/", "a/b"),
        ("100%.txt", "100%.txt"),
        ("acc_95%_%zz", "acc_95%_%zz"),
        ("a b/c-d_e.txt", "a b/c-d_e.txt"),
        ("données/é.csv", "données/é.csv"),
        ("a/.../b", "a/.../b"),
        ("a/.hidden", "a/.hidden"),
        ("x" * 255, "x" * 255),
    ],
)
def test_validate_accepts(path: str, expected: str) -> None:
    assert validate_artifact_path(path) == expected


def test_validate_empty_and_type() -> None:
    assert validate_artifact_path("", allow_empty=True) == ""
    with pytest.raises(InvalidInputError):
        validate_artifact_path(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        validate_artifact_path(b"a/b")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- symlinks and sources
def test_tree_with_symlink_outside_is_rejected(store: ArtifactStore, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"top secret")
    make_tree(tmp_path / "model")
    os.symlink(secret, tmp_path / "model" / "meta" / "zz_link.txt")
    with pytest.raises(InvalidInputError, match="symlink"):
        store.plan_tree(tmp_path / "model", "run/model")
    with pytest.raises(InvalidInputError, match="symlink"):
        store.put_tree(tmp_path / "model", "run/model")
    assert raw_files(store) == set()


def test_tree_with_relative_symlink_escaping_is_rejected(store: ArtifactStore, tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_bytes(b"x")
    make_tree(tmp_path / "model")
    os.symlink("../../outside.txt", tmp_path / "model" / "meta" / "link.txt")
    with pytest.raises(InvalidInputError):
        store.put_tree(tmp_path / "model", "run/model")
    assert raw_files(store) == set()


def test_tree_with_symlink_inside_is_stored_as_content(store: ArtifactStore, tmp_path: Path) -> None:
    files = make_tree(tmp_path / "model")
    os.symlink("classes.json", tmp_path / "model" / "meta" / "alias.json")
    store.put_tree(tmp_path / "model", "run")
    assert store.read_bytes("run/meta/alias.json") == files["meta/classes.json"]


def test_tree_with_symlinked_folder_is_rejected(store: ArtifactStore, tmp_path: Path) -> None:
    make_tree(tmp_path / "model")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "f.txt").write_bytes(b"x")
    os.symlink(tmp_path / "elsewhere", tmp_path / "model" / "linked", target_is_directory=True)
    with pytest.raises(InvalidInputError, match="symlinked folder"):
        store.put_tree(tmp_path / "model", "run")
    assert raw_files(store) == set()


def test_tree_with_bad_file_name_writes_nothing(store: ArtifactStore, tmp_path: Path) -> None:
    make_tree(tmp_path / "model")
    (tmp_path / "model" / "zz#frag.txt").write_bytes(b"x")  # sorts last: validated before any write
    with pytest.raises(InvalidInputError, match="zz#frag"):
        store.put_tree(tmp_path / "model", "run")
    assert raw_files(store) == set()


def test_plan_tree_writes_nothing(store: ArtifactStore, tmp_path: Path) -> None:
    files = make_tree(tmp_path / "model")
    plan = store.plan_tree(tmp_path / "model", "run/model")
    assert [key for _, key in plan] == sorted(f"run/model/{rel}" for rel in files)
    assert all(src.read_bytes() == files[key.removeprefix("run/model/")] for src, key in plan)
    assert raw_files(store) == set()


def test_put_file_rejects_symlink_source(store: ArtifactStore, tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_bytes(b"x")
    os.symlink(tmp_path / "real.txt", tmp_path / "link.txt")
    with pytest.raises(InvalidInputError, match="symbolic link"):
        store.put_file(tmp_path / "link.txt", "run/a.txt")
    assert raw_files(store) == set()


def test_sources_must_exist_and_have_the_right_kind(store: ArtifactStore, tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file.txt").write_bytes(b"x")
    with pytest.raises(NotFoundError):
        store.put_file(tmp_path / "missing.txt", "run/a.txt")
    with pytest.raises(InvalidInputError):
        store.put_file(tmp_path / "dir", "run/a.txt")
    with pytest.raises(NotFoundError):
        store.put_tree(tmp_path / "missing", "run")
    with pytest.raises(InvalidInputError):
        store.put_tree(tmp_path / "file.txt", "run")
    with pytest.raises(InvalidInputError):
        store.put_bytes("not bytes", "run/a.txt")  # type: ignore[arg-type]
    assert raw_files(store) == set()


def test_local_destination_through_escaping_symlink_is_rejected(local_store: ArtifactStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = local_store.local_path("")
    assert root is not None
    root.mkdir()
    os.symlink(outside, root / "evil", target_is_directory=True)
    with pytest.raises(InvalidInputError, match="outside"):
        local_store.put_bytes(b"x", "evil/f.txt")
    with pytest.raises(InvalidInputError, match="outside"):
        local_store.put_bytes(b"x", "evil/sub/f.txt")
    (outside / "g.txt").write_bytes(b"secret")
    with pytest.raises(InvalidInputError):
        local_store.read_bytes("evil/g.txt")
    assert local_store.list() == []
    assert [p.name for p in outside.iterdir()] == ["g.txt"]


def test_destination_conflicts_are_rejected(store: ArtifactStore) -> None:
    store.put_bytes(b"x", "run/a")
    store.put_bytes(b"y", "run/dir/f")
    with pytest.raises(InvalidInputError, match="is a file"):
        store.put_bytes(b"z", "run/a/b")
    with pytest.raises(InvalidInputError, match="folder"):
        store.put_bytes(b"z", "run/dir")
    assert store.list() == ["run/a", "run/dir/f"]
    assert store.read_bytes("run/a") == b"x"


def test_put_tree_destination_conflict_is_found_before_writing(store: ArtifactStore, tmp_path: Path) -> None:
    make_tree(tmp_path / "model")
    store.put_bytes(b"x", "run/meta")  # a file where the tree needs the folder run/meta/
    with pytest.raises(InvalidInputError, match="'run/meta' is a file"):
        store.plan_tree(tmp_path / "model", "run")
    with pytest.raises(InvalidInputError, match="'run/meta' is a file"):
        store.put_tree(tmp_path / "model", "run")
    assert raw_files(store) == {"run/meta"}


# --------------------------------------------------------------------------- atomicity
@pytest.mark.parametrize("root", ["local", "recording"])
@pytest.mark.parametrize("method", ["put_bytes", "put_file"])
def test_failure_mid_write_leaves_nothing(
    request: pytest.FixtureRequest, tmp_path: Path, method: str, root: str
) -> None:
    store: ArtifactStore = request.getfixturevalue(f"{root}_store")
    store.put_bytes(b"old version", "run/model.bin")
    before = raw_files(store)
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(BIG))
    for key in ("run/model.bin", "run/new.bin"):
        write_on_full_disk(store, method, source, key)
    assert raw_files(store) == before == {"run/model.bin"}
    assert store.read_bytes("run/model.bin") == b"old version"


@pytest.mark.parametrize("root", ["local", "recording"])
def test_put_tree_failure_midway_rolls_back(request: pytest.FixtureRequest, tmp_path: Path, root: str) -> None:
    store: ArtifactStore = request.getfixturevalue(f"{root}_store")
    store.put_bytes(b"keep", "run/keep.txt")
    before = raw_files(store)
    tree = tmp_path / "model"
    make_tree(tree)
    (tree / "meta" / "deep" / "big.bin").write_bytes(os.urandom(BIG))  # third in key order: fails mid-copy
    write_on_full_disk(store, "put_tree", tree, "run/model")
    if root == "recording":  # two files were written (then removed) before the failure
        written = [path.rpartition("/")[2] for path, _ in RecordingMemoryFileSystem.writes]
        assert [name.split(".tmp-")[0] for name in dict.fromkeys(written)] == [".MLmodel.yaml", ".classes.json", ".big.bin"]
    assert raw_files(store) == before
    assert store.list() == ["run/keep.txt"]


# --------------------------------------------------------------------------- delete
def test_delete_file_and_folder(store: ArtifactStore, tmp_path: Path) -> None:
    make_tree(tmp_path / "model")
    store.put_tree(tmp_path / "model", "run/model")
    store.put_bytes(b"x", "run/a.txt")
    store.delete("run/model/meta")
    assert store.list() == ["run/a.txt", "run/model/MLmodel.yaml", "run/model/model.pkl"]
    store.delete("run/a.txt")
    assert not store.exists("run/a.txt")
    store.delete("run/nothing-here")  # missing is fine by default
    with pytest.raises(NotFoundError):
        store.delete("run/nothing-here", missing_ok=False)
    with pytest.raises(InvalidInputError):
        store.delete("")
    assert store.list() == ["run/model/MLmodel.yaml", "run/model/model.pkl"]


def test_local_delete_prunes_empty_folders(local_store: ArtifactStore) -> None:
    local_store.put_bytes(b"x", "run/deep/er/a.txt")
    local_store.put_bytes(b"y", "other.txt")
    local_store.delete("run/deep/er/a.txt")
    root = local_store.local_path("")
    assert root is not None and root.exists()
    assert not (root / "run").exists()
    assert not local_store.exists("run")


# --------------------------------------------------------------------------- contains_uri
def test_contains_uri_local(local_store: ArtifactStore, tmp_path: Path) -> None:
    root = local_store.local_path("")
    assert root is not None
    root_posix = root.as_posix()
    local_store.put_bytes(b"x", "a/b.txt")
    inside = [
        local_store.uri_for("a/b.txt"),
        local_store.uri_for("a/not-yet-written.txt"),
        f"{root_posix}/a/b.txt",
        f"file://{root_posix}/a/",
    ]
    outside = [
        "file:///etc/passwd",
        "/etc/passwd",
        f"{local_store.root_uri}/../x",
        f"{root_posix}/../x",
        f"{local_store.root_uri}/a/../../x",
        f"{local_store.root_uri}/a#frag",
        f"{local_store.root_uri}/a?x=1",
        f"{local_store.root_uri}/%2e%2e/x",
        f"{local_store.root_uri}/a//b",
        "//proc/self/root/etc",
        f"//proc/self/root{root_posix}/a/b.txt",
        f"file:////proc/self/root{root_posix}/a/b.txt",
        f"file://localhost{root_posix}/a/b.txt",
        f"file:{root_posix}/a/b.txt",
        local_store.root_uri,
        local_store.root_uri + "/",
        local_store.root_uri + "x/a",
        "memory://bucket/a",
        "a/b.txt",
        "",
    ]
    assert [u for u in inside if not local_store.contains_uri(u)] == []
    assert [u for u in outside if local_store.contains_uri(u)] == []
    assert local_store.contains_uri(None) is False  # type: ignore[arg-type]


def test_contains_uri_rejects_symlink_leaving_root(local_store: ArtifactStore, tmp_path: Path) -> None:
    root = local_store.local_path("")
    assert root is not None
    root.mkdir()
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", root / "link", target_is_directory=True)
    assert not local_store.contains_uri(f"{local_store.root_uri}/link/x")
    assert local_store.contains_uri(f"{local_store.root_uri}/real/x")


def test_contains_uri_memory(memory_store: ArtifactStore) -> None:
    base = memory_store.root_uri.removeprefix("memory://")
    assert memory_store.contains_uri(f"memory://{base}/a/b.txt")
    assert memory_store.contains_uri(f"memory:///{base}/a/b.txt")
    for uri in [
        f"memory://{base}x/a",
        f"memory://{base}/../x",
        f"memory://{base}/a#frag",
        f"memory://{base}",
        f"file:///{base}/a",
        f"/{base}/a",
        "memory://other-bucket/a",
        f"s3://{base}/a",
    ]:
        assert not memory_store.contains_uri(uri), uri
