"""Artifacts through the Client: records, hashes, and rejected paths that write nothing."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import fsspec
import pytest

from trackflow.exceptions import InvalidInputError, NotFoundError
from trackflow.tracking.client import Client

BAD_PATHS = [
    "../escape.txt", "/abs.txt", "a\\b.txt", "C:/x.txt", "%2e%2e/x.txt", "%252e%252e/x.txt",
    "a#frag.txt", "a;b.txt", "nul\x00.txt", "a/../../b.txt",
]


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


def test_log_file_folder_text_and_dict(client: Client, tmp_path: Path) -> None:
    run = client.create_run("art")
    folder = tmp_path / "plots"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.png").write_bytes(b"\x89PNG fake")
    (folder / "sub" / "b.csv").write_text("x,y\n1,2\n")
    logged = client.log_artifact(run.id, folder)
    assert sorted(a.path for a in logged) == ["plots/a.png", "plots/sub/b.csv"]
    csv = next(a for a in logged if a.path.endswith(".csv"))
    assert csv.sha256 == hashlib.sha256(b"x,y\n1,2\n").hexdigest() and csv.size == 8 and csv.media_type == "text/csv"
    client.log_text(run.id, "hello", "notes/hello.txt")
    client.log_dict(run.id, {"a": 1}, "cfg.yaml")
    assert client.read_artifact(run.id, "notes/hello.txt") == b"hello"
    assert client.read_artifact(run.id, "cfg.yaml") == b"a: 1\n"
    assert len(client.list_artifacts(run.id)) == 4
    assert [a.path for a in client.list_artifacts(run.id, "plots/sub")] == ["plots/sub/b.csv"]
    with pytest.raises(NotFoundError):
        client.download_artifacts(run.id, "missing", tmp_path / "dl")


@pytest.mark.parametrize("bad", BAD_PATHS)
def test_bad_artifact_paths_write_nothing(client: Client, tmp_path: Path, bad: str) -> None:
    run = client.create_run("art")
    root = Path(client.artifact_root)
    source = tmp_path / "f.txt"
    source.write_text("x")
    before_files = _files(root)
    with pytest.raises(InvalidInputError):
        client.log_text(run.id, "x", bad)
    with pytest.raises(InvalidInputError):
        client.log_artifact(run.id, source, bad)
    assert _files(root) == before_files
    assert client.list_artifacts(run.id) == []


def test_symlink_leaving_folder_is_rejected(client: Client, tmp_path: Path) -> None:
    run = client.create_run("art")
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "ok.txt").write_text("ok")
    os.symlink(secret, folder / "link.txt")
    root = Path(client.artifact_root)
    before = _files(root)
    with pytest.raises(InvalidInputError, match="symlink|link"):
        client.log_artifact(run.id, folder)
    assert _files(root) == before and client.list_artifacts(run.id) == []


def test_memory_artifact_root(store_uri: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = f"memory://tf-{uuid.uuid4().hex}"
    client = Client(artifact_root=root)
    run = client.create_run("mem")
    artifact = client.log_dict(run.id, {"k": [1, 2]}, "meta/k.json")
    assert artifact.uri.startswith("memory://")
    assert client.read_artifact(run.id, "meta/k.json") == b'{\n  "k": [\n    1,\n    2\n  ]\n}'
    out = client.download_artifacts(run.id, "meta", tmp_path / "dl")
    assert (out / "k.json").exists()
    fsspec.filesystem("memory").rm(root.removeprefix("memory://"), recursive=True)
