"""Artifacts and datasets of runs (the file-handling half of the Client)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trackflow.exceptions import IntegrityError, InvalidInputError, NotFoundError
from trackflow.tracking.buffer import WriteBuffer
from trackflow.tracking.entities import Artifact, Dataset, RunDataset, now_ms
from trackflow.tracking.store.base import TrackingStore
from trackflow.tracking.validation import validate_name, validate_run_id

if TYPE_CHECKING:
    from trackflow.tracking.artifacts import ArtifactStore

__all__ = ["ArtifactsMixin", "DATASET_ROLES"]

DATASET_ROLES = ("input", "output")


class ArtifactsMixin:
    """Files a run stores (sha256, size, media type recorded) and datasets it uses."""

    _store: TrackingStore
    _buffer: WriteBuffer
    artifact_root: str
    _artifact_store: ArtifactStore | None

    def _known_run(self, run_id: str) -> str:  # provided by LoggingMixin
        raise NotImplementedError

    @property
    def artifacts(self) -> ArtifactStore:
        """The :class:`~trackflow.tracking.artifacts.ArtifactStore` under ``artifact_root``."""
        if self._artifact_store is None:
            from trackflow.tracking.artifacts import ArtifactStore

            self._artifact_store = ArtifactStore(self.artifact_root)
        return self._artifact_store

    # ---- writing --------------------------------------------------------------------

    def log_artifact(self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None) -> list[Artifact]:
        """Store a file or a folder under the run (in ``artifact_path`` when given).

        A file keeps its name; a folder's files keep their layout under ``artifact_path``
        (default: the folder's name). Paths are checked before anything is written.
        """
        run_id = self._known_run(run_id)
        return self._record(run_id, self._put_files(run_id, local_path, artifact_path))

    def log_model_artifact(
        self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str, *,
        label: str, content_hash: str, attributes: Mapping[str, Any],
    ) -> list[Artifact]:  # fmt: skip
        """Store a model package folder as ``artifact_path`` of the run, as ONE lineage node.

        The package's files are artifacts like any others, but lineage sees one node of kind
        ``model`` (``model:runs:/<run_id>/<artifact_path>``, see
        :func:`~trackflow.tracking.lineage.model_ref`) produced by the run, labelled
        ``label`` (e.g. the model class), with ``content_hash`` (the payload's sha256) and
        ``attributes`` (flavor, ...) recorded on it.
        """
        from trackflow.tracking.artifacts import validate_artifact_path
        from trackflow.tracking.lineage import model_ref

        run_id = self._known_run(run_id)
        path = validate_artifact_path(artifact_path)
        if not Path(local_dir).is_dir():
            raise InvalidInputError(f"A model package must be a folder, got {str(local_dir)!r}.")
        stored = self._put_files(run_id, local_dir, path)
        node = {
            "id": model_ref(run_id, path), "kind": "model", "label": label[:256], "run_id": run_id,
            "content_hash": content_hash,
            "attributes_json": json.dumps({**attributes, "run_id": run_id, "artifact_path": path}, default=str),
        }  # fmt: skip
        return self._record(run_id, stored, node=node)

    def _put_files(self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None) -> list[Any]:
        from trackflow.tracking.artifacts import validate_artifact_path

        source = Path(local_path)
        if not source.exists():
            raise InvalidInputError(f"Cannot log artifact {str(local_path)!r}: no such file or folder.")
        prefix = validate_artifact_path(artifact_path, allow_empty=True) if artifact_path else ""
        if source.is_dir():
            dest = prefix or validate_artifact_path(source.resolve().name)
            plan = self.artifacts.plan_tree(source, f"{run_id}/{dest}")
            if not plan:
                raise InvalidInputError(f"Folder {str(local_path)!r} has no files to log.")
            return list(self.artifacts.put_tree(source, f"{run_id}/{dest}"))
        name = validate_artifact_path(source.name)
        return [self.artifacts.put_file(source, f"{run_id}/{prefix + '/' if prefix else ''}{name}")]

    def log_text(self, run_id: str, text: str, artifact_file: str) -> Artifact:
        """Store a string as a UTF-8 file."""
        if not isinstance(text, str):
            raise InvalidInputError(f"log_text needs a string, got {type(text).__name__}.")
        return self._log_bytes(run_id, text.encode("utf-8"), artifact_file)

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> Artifact:
        """Store a JSON-able value as JSON, or as YAML when the file ends in .yaml/.yml."""
        import yaml

        try:
            if artifact_file.endswith((".yaml", ".yml")):
                data = yaml.safe_dump(dictionary, sort_keys=False).encode("utf-8")
            else:
                data = json.dumps(dictionary, indent=2, allow_nan=True).encode("utf-8")
        except (TypeError, ValueError, yaml.YAMLError) as exc:
            raise InvalidInputError(f"Cannot serialize the value for {artifact_file!r}: {exc}") from exc
        return self._log_bytes(run_id, data, artifact_file)

    def _log_bytes(self, run_id: str, data: bytes, artifact_file: str) -> Artifact:
        from trackflow.tracking.artifacts import validate_artifact_path

        run_id = self._known_run(run_id)
        path = validate_artifact_path(artifact_file)
        return self._record(run_id, [self.artifacts.put_bytes(data, f"{run_id}/{path}")])[0]

    def _record(self, run_id: str, stored: list[Any], *, node: dict[str, Any] | None = None) -> list[Artifact]:
        """Record stored files as artifacts of the run and as lineage: each file a node, or
        (``node``) all of them one node such as a model package.

        Everything this process has queued (the run, metrics ...) is written first, as
        before a read, so the database never holds an artifact logged after values it lacks.
        """
        self._buffer.flush()
        created = now_ms()
        rows = [
            {
                "run_id": run_id,
                "path": item.path.split("/", 1)[1],
                "uri": item.uri,
                "sha256": item.sha256,
                "size": item.size,
                "media_type": item.media_type,
                "created_at": created,
            }
            for item in stored
        ]
        try:
            with self._store.transaction() as tx:
                tx.record_artifacts(rows)
                if node is not None:
                    tx.create_nodes([{**node, "created_at": created}])
                    targets = [(node["id"], node["label"])]
                else:
                    targets = [(f"artifact:{r['uri']}", r["path"]) for r in rows]
                tx.create_edges(
                    [
                        {"source": f"run:{run_id}", "target": target, "relation": "produced",
                         "run_id": run_id, "name": name, "created_at": created}
                        for target, name in targets
                    ]
                )
        except BaseException:
            for item in stored:
                with suppress(Exception):  # keep the original error
                    self.artifacts.delete(item.path)
            raise
        with self._store.transaction(write=False) as tx:
            by_path = {a.path: a for a in tx.read_artifacts(run_id)}
        return [by_path[r["path"]] for r in rows]

    # ---- reading --------------------------------------------------------------------

    def list_artifacts(self, run_id: str, path: str = "") -> list[Artifact]:
        """Artifacts of a run at or under ``path``."""
        run_id = validate_run_id(run_id)
        with self._store.transaction(write=False) as tx:
            return tx.read_artifacts(run_id, path.strip("/"))

    def artifact_uri(self, run_id: str, path: str = "") -> str:
        """Where a run's artifacts (or one of them) live."""
        run_id = validate_run_id(run_id)
        return self.artifacts.uri_for(f"{run_id}/{path}".rstrip("/"))

    def read_artifact(self, run_id: str, path: str) -> bytes:
        """The bytes of one artifact, checked against its recorded sha256."""
        import hashlib

        records = [a for a in self.list_artifacts(run_id, path) if a.path == path.strip("/")]
        if not records:
            raise NotFoundError(f"Run {run_id} has no artifact {path!r}.")
        data = self.artifacts.read_bytes(f"{validate_run_id(run_id)}/{records[0].path}")
        if hashlib.sha256(data).hexdigest() != records[0].sha256:
            raise IntegrityError(f"Artifact {path!r} of run {run_id} does not match its recorded sha256.")
        return data

    def download_artifacts(self, run_id: str, path: str = "", dst_path: str | os.PathLike[str] | None = None) -> Path:
        """Copy a run's artifact file or folder ``path`` into ``dst_path`` (a temp dir by default).

        Returns the local copy: ``dst_path/<path>`` (``dst_path`` itself for the whole run).
        Every recorded file is checked against its recorded sha256 while it is copied into a
        hidden staging folder; a mismatch or a recorded file missing from the store raises
        :class:`~trackflow.exceptions.IntegrityError` and nothing is placed at ``dst_path``.
        Only recorded artifacts are copied.
        """
        import shutil
        import tempfile

        run_id = validate_run_id(run_id)
        path = path.strip("/")
        records = self.list_artifacts(run_id, path)
        if not records:
            raise NotFoundError(f"Run {run_id} has no artifact at {path!r}.")
        created = dst_path is None or not Path(dst_path).exists()
        destination = Path(dst_path) if dst_path is not None else Path(tempfile.mkdtemp(prefix="trackflow-"))
        destination.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".trackflow-download-", dir=destination))
        placed: list[Path] = []
        try:
            verified: list[tuple[Path, Path]] = []
            for record in records:
                parts = record.path.split("/")
                self._fetch_verified(run_id, record, staging.joinpath(*parts))
                verified.append((staging.joinpath(*parts), destination.joinpath(*parts)))
            for local, final in verified:  # all verified: move them into place
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(local, final)
                placed.append(final)
        except BaseException:
            for final in placed:
                with suppress(OSError):
                    final.unlink()
            shutil.rmtree(staging, ignore_errors=True)
            if created:
                shutil.rmtree(destination, ignore_errors=True)
            raise
        shutil.rmtree(staging, ignore_errors=True)
        return destination / path if path else destination

    def _fetch_verified(self, run_id: str, record: Artifact, local: Path) -> None:
        """Copy one recorded artifact to ``local``; IntegrityError if missing or altered."""
        try:
            digest, _ = self.artifacts.fetch(f"{run_id}/{record.path}", local)
        except NotFoundError:
            raise IntegrityError(
                f"Artifact {record.path!r} of run {run_id} is recorded but missing from the artifact store "
                f"({record.uri}); nothing was downloaded.",
                hint="The file was deleted or moved outside trackflow; restore it or log it again.",
            ) from None
        if digest != record.sha256:
            raise IntegrityError(
                f"Artifact {record.path!r} of run {run_id} does not match its recorded sha256 "
                f"(recorded {record.sha256}, stored file {digest}); nothing was downloaded.",
                hint="The stored file was changed outside trackflow (tampered or truncated).",
            )

    # ---- datasets -------------------------------------------------------------------

    def log_dataset(self, run_id: str, data: Any, name: str, *, role: str = "input", source: str | None = None) -> Dataset:
        """Record a DataFrame, array, file or folder: fingerprint, schema, shape, profile.

        The same content is one dataset record, linked to every run that used or made it.
        ``data`` may also be a :class:`~trackflow.tracking.fingerprint.DatasetFingerprint`
        computed earlier, so the same object is not hashed twice.
        """
        from trackflow.tracking.fingerprint import DatasetFingerprint, fingerprint_dataset

        run_id = self._known_run(run_id)
        validate_name(name, "Dataset name")
        if role not in DATASET_ROLES:
            raise InvalidInputError(f"Dataset role must be 'input' or 'output', got {role!r}.")
        fp = data if isinstance(data, DatasetFingerprint) else fingerprint_dataset(data, source=source)
        return self._record_dataset(run_id, fp, name, role)

    def _record_dataset(self, run_id: str, fp: Any, name: str, role: str) -> Dataset:
        self._buffer.flush()  # a direct write: what is queued goes first
        node = f"dataset:{fp.fingerprint}"
        edge = (
            {"source": node, "target": f"run:{run_id}", "relation": "input"}
            if role == "input"
            else {"source": f"run:{run_id}", "target": node, "relation": "output"}
        )
        with self._store.transaction() as tx:
            dataset = tx.upsert_dataset(
                fingerprint=fp.fingerprint, name=name, kind=fp.kind, schema=fp.schema, num_rows=fp.num_rows,
                num_columns=fp.num_columns, profile=fp.profile, source=fp.source, size_bytes=fp.size_bytes,
            )
            tx.create_edges([{**edge, "run_id": run_id, "name": name, "created_at": now_ms()}])
        return dataset

    def get_datasets(self, run_id: str, *, role: str | None = None) -> list[RunDataset]:
        """Datasets a run used (``input``) or produced (``output``), in logging order."""
        run_id = validate_run_id(run_id)
        node = f"run:{run_id}"
        with self._store.transaction(write=False) as tx:
            edges = [e for e in tx.read_edges([node], outgoing=False) if e.relation == "input"]
            edges += [e for e in tx.read_edges([node], outgoing=True) if e.relation == "output"]
            refs = [(e.source if e.relation == "input" else e.target, e) for e in edges]
            found = tx.read_datasets_by_fingerprint([r.removeprefix("dataset:") for r, _ in refs if r.startswith("dataset:")])
        result = [
            RunDataset(dataset=found[ref.removeprefix("dataset:")], name=edge.name or "", role=edge.relation)
            for ref, edge in sorted(refs, key=lambda item: item[1].created_at)
            if ref.removeprefix("dataset:") in found
        ]
        return [r for r in result if role is None or r.role == role]
