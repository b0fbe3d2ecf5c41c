"""download_artifacts verifies every file; artifact-store OSErrors are StoreError; direct writes flush first."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from trackflow.exceptions import IntegrityError, StoreError
from trackflow.tracking.client import Client


def _stored(client: Client, run_id: str, path: str) -> Path:
    local = client.artifacts.local_path(f"{run_id}/{path}")
    assert local is not None
    return local


def _logged(client: Client) -> str:
    run = client.create_run("dl")
    client.log_text(run.id, "alpha", "meta/a.txt")
    client.log_text(run.id, "beta", "meta/sub/b.txt")
    client.log_text(run.id, "top", "top.txt")
    return run.id


def test_download_of_intact_artifacts(client: Client, tmp_path: Path) -> None:
    run_id = _logged(client)
    out = client.download_artifacts(run_id, "meta", tmp_path / "out")
    assert out == tmp_path / "out" / "meta"
    assert (out / "a.txt").read_text() == "alpha" and (out / "sub" / "b.txt").read_text() == "beta"
    whole = client.download_artifacts(run_id, "", tmp_path / "whole")
    assert sorted(p.relative_to(whole).as_posix() for p in whole.rglob("*") if p.is_file()) == [
        "meta/a.txt", "meta/sub/b.txt", "top.txt"
    ]  # fmt: skip
    single = client.download_artifacts(run_id, "top.txt", tmp_path / "one")
    assert single == tmp_path / "one" / "top.txt" and single.read_text() == "top"


@pytest.mark.parametrize("path", ["meta", "meta/sub/b.txt", ""])
def test_tampered_file_raises_and_leaves_nothing(client: Client, tmp_path: Path, path: str) -> None:
    run_id = _logged(client)
    _stored(client, run_id, "meta/sub/b.txt").write_text("BETA")  # same size, other bytes
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    for dst in (existing, tmp_path / "fresh" / "deeper"):
        with pytest.raises(IntegrityError, match="does not match its recorded sha256") as info:
            client.download_artifacts(run_id, path, dst)
        assert "meta/sub/b.txt" in str(info.value)
    assert sorted(p.name for p in existing.iterdir()) == ["keep.txt"]  # no staging, no partial copy
    assert not (tmp_path / "fresh" / "deeper").exists()


def test_truncated_file_raises(client: Client, tmp_path: Path) -> None:
    run_id = _logged(client)
    _stored(client, run_id, "top.txt").write_bytes(b"")
    with pytest.raises(IntegrityError):
        client.download_artifacts(run_id, "top.txt", tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == [] if (tmp_path / "out").exists() else True


@pytest.mark.parametrize("path", ["meta", ""])
def test_recorded_file_missing_from_the_store_raises(client: Client, tmp_path: Path, path: str) -> None:
    run_id = _logged(client)
    _stored(client, run_id, "meta/a.txt").unlink()
    dst = tmp_path / "out"
    dst.mkdir()
    with pytest.raises(IntegrityError, match="missing from the artifact store") as info:
        client.download_artifacts(run_id, path, dst)
    assert "meta/a.txt" in str(info.value)
    assert list(dst.iterdir()) == []


def test_default_destination_is_removed_on_failure(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    run_id = _logged(client)
    _stored(client, run_id, "top.txt").write_text("evil")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    with pytest.raises(IntegrityError):
        client.download_artifacts(run_id)
    assert list((tmp_path / "tmp").iterdir()) == []


# --------------------------------------------------------------------------- store OSErrors


def _client_with_root(root: str) -> Client:
    return Client(artifact_root=root)


def test_artifact_root_that_is_a_file_gives_store_error(store_uri: str, tmp_path: Path) -> None:
    """A root that cannot be written (a file here: works even as root, unlike chmod 0o500)."""
    root = tmp_path / "root-is-a-file"
    root.write_text("not a folder")
    client = _client_with_root(str(root))
    run = client.create_run("ro")
    with pytest.raises(StoreError, match="root-is-a-file") as info:
        client.log_text(run.id, "x", "notes/x.txt")
    assert f"{run.id}/notes/x.txt" in str(info.value)
    assert isinstance(info.value, OSError) and info.value.errno is not None  # still an OSError for old callers
    source = tmp_path / "model.bin"
    source.write_bytes(b"weights")
    with pytest.raises(StoreError, match="model.bin"):
        client.log_artifact(run.id, source)
    folder = tmp_path / "plots"
    folder.mkdir()
    (folder / "a.csv").write_text("1")
    with pytest.raises(StoreError, match="plots/a.csv"):
        client.log_artifact(run.id, folder)
    assert client.list_artifacts(run.id) == []
    assert root.read_text() == "not a folder"


def test_full_artifact_root_gives_store_error_and_no_temp_file(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = client.create_run("full")
    client.log_text(run.id, "ok", "first.txt")

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(StoreError, match="No space left on device") as info:
        client.log_text(run.id, "x" * 1000, "second.txt")
    assert "second.txt" in str(info.value)
    monkeypatch.undo()
    assert [a.path for a in client.list_artifacts(run.id)] == ["first.txt"]
    stored = _stored(client, run.id, "first.txt").parent
    assert sorted(p.name for p in stored.iterdir()) == ["first.txt"]


# --------------------------------------------------------------------------- flush order


def test_direct_writes_flush_the_queue_first(client: Client, tmp_path: Path) -> None:
    run = client.create_run("order")
    client.log_metric(run.id, "loss", 0.25)  # queued, not written
    client.log_text(run.id, "note", "note.txt")
    with client._store.transaction(write=False) as tx:  # read without flushing
        assert tx.read_runs([run.id])[0].metrics == {"loss": 0.25}
    client.log_metric(run.id, "acc", 0.5)
    source = tmp_path / "f.txt"
    source.write_text("f")
    client.log_artifact(run.id, source)
    with client._store.transaction(write=False) as tx:
        assert tx.read_runs([run.id])[0].metrics == {"loss": 0.25, "acc": 0.5}
    client.log_metric(run.id, "f1", 0.75)
    client.log_dataset(run.id, source, "train")
    with client._store.transaction(write=False) as tx:
        assert tx.read_runs([run.id])[0].metrics["f1"] == 0.75
