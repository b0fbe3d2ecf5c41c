"""Model packages in the artifact store: log them, verify them, resolve URIs and load them.

``load_model("models:/churn-clf@champion")`` resolves the URI to a version, finds its
package in the artifact store (downloading it into a temporary folder when the root is
not local), checks every file of it (the manifest ``trackflow-model.yaml`` included)
against the sha256 the registry recorded at registration (versions registered before the
registry recorded them: against the sha256 the run recorded when it logged each file) and
the payload against the version's payload digest, and only then deserializes it through
:func:`trackflow.registry.model_format.load_model` (skops with an allowlist; pickle only
with ``allow_unsafe=True``). A file that differs, is missing or was added raises
IntegrityError naming it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trackflow.exceptions import (
    IntegrityError,
    InvalidInputError,
    NotFoundError,
    StoreError,
)
from trackflow.registry.uris import parse_model_uri, parse_source, run_source
from trackflow.tracking.lineage import model_ref
from trackflow.tracking.objects import remember_ref

if TYPE_CHECKING:
    from trackflow.registry.entities import ModelVersion
    from trackflow.registry.model_format import ModelManifest, PackagedModel
    from trackflow.tracking.client import Client

__all__ = [
    "load_model",
    "load_version",
    "load_run_package",
    "log_package",
    "free_package_path",
    "training_schema",
    "package_directory",
    "verify_package",
    "verify_package_files",
    "check_package_files",
    "warn_if_process_local",
]

_warned_roots: set[str] = set()


@contextmanager
def package_directory(client: Client, run_id: str, path: str) -> Iterator[Path]:
    """A local folder holding the package ``runs:/<run_id>/<path>``.

    The folder itself on a local artifact root; a temporary download (removed afterwards)
    on any other root.
    """
    key = f"{run_id}/{path}"
    local = client.artifacts.local_path(key)
    if local is not None:
        yield Path(local)
        return
    with tempfile.TemporaryDirectory(prefix="trackflow-model-") as tmp:
        yield Path(client.artifacts.download(key, tmp))


def _package_records(client: Client, run_id: str, path: str) -> dict[str, Any]:
    from trackflow.registry.model_format import MANIFEST_FILE

    records = {a.path: a for a in client.list_artifacts(run_id, path)}
    if f"{path}/{MANIFEST_FILE}" not in records:
        found = ", ".join(sorted(records)[:10]) or "nothing"
        raise NotFoundError(
            f"No trackflow model package at {run_source(run_id, path)}: the run has no artifact "
            f"{path}/{MANIFEST_FILE} (found: {found}).",
            hint="Log a package with registry.register_model(...) or save_model + log_artifact.",
        )
    return records


def free_package_path(client: Client, run_id: str) -> str:
    """The first of ``model``, ``model-2``, ``model-3`` ... under which the run has no artifacts."""
    taken = {a.path.split("/", 1)[0] for a in client.list_artifacts(run_id)}
    number = 1
    while (path := "model" if number == 1 else f"model-{number}") in taken:
        number += 1
    return path


def training_schema(client: Client, run_id: str, model: Any) -> list[dict[str, str]] | None:
    """The schema of the input dataset of ``run_id`` (or of its parent run) that holds every
    feature of the fitted ``model`` (``feature_names_in_``, else the positional columns of
    ``n_features_in_``), or None when none does."""
    names = getattr(model, "feature_names_in_", None)
    count = getattr(model, "n_features_in_", None)
    if names is not None:
        wanted = {str(n) for n in names}
    elif isinstance(count, int) and count > 0:  # fit on an array: its columns are "0", "1", ...
        wanted = {str(i) for i in range(count)}
    else:
        return None
    run_ids = [run_id]
    parent = client.get_run(run_id).parent_run_id
    if parent:
        run_ids.append(parent)
    for rid in run_ids:
        for item in client.get_datasets(rid, role="input"):
            schema = item.dataset.schema
            if wanted <= {str(column.get("name")) for column in schema}:
                return list(schema)
    return None


def log_package(
    client: Client, model: Any, run_id: str, path: str, *, input_example: Any = None, serialization: str = "skops",
    schema: list[dict[str, str]] | None = None,
) -> ModelManifest:
    """Save ``model`` as a package and log it as the artifacts ``path`` of the run.

    The package is one lineage node (``model:runs:/<run_id>/<path>``) and the object is
    remembered as that node, so a task receiving it or a registration of it links to it.
    ``schema`` (a dataset schema) gives the signature's dtypes when there is no example.

    An existing package is never overwritten (AlreadyExistsError): registered versions
    point at it. The logged payload's sha256 is checked against the manifest.
    """
    from trackflow.exceptions import AlreadyExistsError
    from trackflow.registry.model_format import save_model

    if client.list_artifacts(run_id, path):
        raise AlreadyExistsError(
            f"Run {run_id} already has artifacts at {path!r}; a model package is never overwritten.",
            hint=f"Pass another artifact_path, or register the logged package with "
            f"create_version(name, source='{run_source(run_id, path)}').",
        )
    with tempfile.TemporaryDirectory(prefix="trackflow-package-") as tmp:
        package = Path(tmp) / "model"
        manifest = save_model(model, package, input_example=input_example, run_id=run_id, serialization=serialization,
                              training_schema=schema)
        try:
            logged = client.log_model_artifact(
                run_id, package, path, label=manifest.model_class.rsplit(".", 1)[-1],
                content_hash=manifest.payload_sha256,
                attributes={"flavor": manifest.flavor, "class": manifest.model_class,
                            "serialization": manifest.serialization, "payload_sha256": manifest.payload_sha256},
            )  # fmt: skip
        except OSError as exc:
            raise StoreError(
                f"Could not store the model package at {run_source(run_id, path)}: {exc}",
                hint=f"Check that the artifact root {client.artifacts.root_uri} is writable; nothing was registered.",
            ) from exc
    payload = next((a for a in logged if a.path == f"{path}/{manifest.payload}"), None)
    if payload is None or payload.sha256 != manifest.payload_sha256:
        raise IntegrityError(f"The stored payload of {run_source(run_id, path)} does not match the saved package.")
    remember_ref(model, model_ref(run_id, path))
    return manifest


def warn_if_process_local(client: Client, version: ModelVersion) -> None:
    """Warn (once per artifact root and process) that a version registered under a
    ``memory://`` root can be loaded by this process only."""
    root = client.artifacts.root_uri
    if not client.artifacts.process_local or root in _warned_roots:
        return
    _warned_roots.add(root)
    import warnings

    warnings.warn(
        f"Model {version.name!r} version {version.version} is stored under the artifact root {root!r}, which "
        "exists only in this process: no other process (a worker, `trackflow serve`, another Python) can load "
        "it. Set TRACKFLOW_ARTIFACT_ROOT to a shared folder or an object store (s3://...).",
        UserWarning,
        stacklevel=4,  # the caller of register_model / create_version
    )


def _file_sha256(path: Path) -> str:
    import hashlib

    if not path.is_file():
        raise IntegrityError(f"The model package at {path.parent} is incomplete: {path.name} is missing.")
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _recorded_files(records: Mapping[str, Any], path: str) -> dict[str, str]:
    """The package's files (paths inside the package) and the sha256 the run logged for each."""
    prefix = f"{path}/"
    return {key[len(prefix):]: record.sha256 for key, record in records.items() if key.startswith(prefix)}


def check_package_files(folder: Path, expected: Mapping[str, str], *, where: str, recorded_by: str) -> None:
    """Every file of the package in ``folder`` must have the sha256 in ``expected`` (path
    inside the package -> digest); a changed, missing or unrecorded file raises
    IntegrityError naming it. Nothing is parsed or deserialized."""
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    for name in sorted(expected):
        if name not in present:
            raise IntegrityError(f"The model package {where} is incomplete: {name} is missing.")
        actual = _file_sha256(folder / name)
        if actual != expected[name]:
            raise IntegrityError(
                f"{name} of the model package {where} has sha256 {actual}; {recorded_by} recorded {expected[name]}.",
                hint="The package was modified in the artifact store after it was logged; nothing was loaded.",
            )
    extra = sorted(present - set(expected))
    if extra:
        raise IntegrityError(
            f"The model package {where} holds files that were not logged with it: {', '.join(extra[:10])}.",
            hint="The package was modified in the artifact store after it was logged; nothing was loaded.",
        )


def verify_package_files(client: Client, run_id: str, path: str) -> tuple[ModelManifest, dict[str, str]]:
    """Check the package ``runs:/<run_id>/<path>`` before it is registered, and return its
    manifest with the sha256 of every file (what the registry records with the version).

    Every file must match the sha256 recorded when it was logged, the manifest must be
    valid and the payload's sha256 must equal the manifest's digest; otherwise
    IntegrityError. Nothing is deserialized.
    """
    from trackflow.registry.model_format import read_manifest

    records = _package_records(client, run_id, path)
    files = _recorded_files(records, path)
    with package_directory(client, run_id, path) as folder:
        check_package_files(folder, files, where=f"at {run_source(run_id, path)}", recorded_by="the run")
        manifest = read_manifest(folder)
        actual = _file_sha256(folder / manifest.payload)
    record = records.get(f"{path}/{manifest.payload}")
    if record is None:
        raise IntegrityError(f"The package at {run_source(run_id, path)} has no logged payload {manifest.payload}.")
    if actual != manifest.payload_sha256 or actual != record.sha256:
        raise IntegrityError(
            f"The payload of {run_source(run_id, path)} has sha256 {actual}; its manifest records "
            f"{manifest.payload_sha256} and the run logged {record.sha256}.",
            hint="The package was modified after it was saved; log it again.",
        )
    return manifest, files


def verify_package(client: Client, run_id: str, path: str) -> ModelManifest:
    """Check the package ``runs:/<run_id>/<path>`` (see :func:`verify_package_files`)."""
    return verify_package_files(client, run_id, path)[0]


def load_version(client: Client, version: ModelVersion, *, allow_unsafe: bool = False) -> PackagedModel:
    """Load the package of a registered version, every file verified against its recorded sha256.

    The digests the registry recorded at registration; for versions registered before it
    recorded them (``package_files`` is None), the digests the run recorded when it logged
    each file. The payload is also checked against the version's payload sha256.
    """
    from trackflow.exceptions import ConflictError
    from trackflow.registry.entities import VersionStatus
    from trackflow.registry.model_format import MANIFEST_FILE
    from trackflow.registry.model_format import load_model as load_package

    if version.status is not VersionStatus.READY:
        raise ConflictError(
            f"Version {version.version} of model {version.name!r} is {version.status.value}; only READY versions load."
        )
    run_id, path = parse_source(version.source, client.artifacts)
    expected = version.payload_sha256
    if expected is None:
        raise IntegrityError(f"Version {version.version} of model {version.name!r} has no recorded payload sha256.")
    records = _package_records(client, run_id, path)
    files, recorded_by = version.package_files, "the registry"
    if files is None:  # registered before the registry recorded every file
        files, recorded_by = _recorded_files(records, path), "the run"
    where = f"of version {version.version} of model {version.name!r} ({version.source})"
    with package_directory(client, run_id, path) as folder:
        check_package_files(folder, files, where=where, recorded_by=recorded_by)
        return load_package(
            folder, expected_sha256=expected, allow_unsafe=allow_unsafe,
            expected_manifest_sha256=files.get(MANIFEST_FILE),
        )


def load_run_package(client: Client, run_id: str, path: str, *, allow_unsafe: bool = False) -> PackagedModel:
    """Load the package a run logged at ``path``, every file verified against the logged sha256."""
    from trackflow.registry.model_format import MANIFEST_FILE, read_manifest
    from trackflow.registry.model_format import load_model as load_package

    records = _package_records(client, run_id, path)
    files = _recorded_files(records, path)
    with package_directory(client, run_id, path) as folder:
        check_package_files(folder, files, where=f"at {run_source(run_id, path)}", recorded_by="the run")
        manifest = read_manifest(folder)
        record = records.get(f"{path}/{manifest.payload}")
        if record is None:
            raise IntegrityError(f"The package at {run_source(run_id, path)} has no logged payload {manifest.payload}.")
        return load_package(
            folder, expected_sha256=record.sha256, allow_unsafe=allow_unsafe,
            expected_manifest_sha256=files.get(MANIFEST_FILE),
        )


def load_model(uri: str, *, allow_unsafe: bool = False, client: Client | None = None) -> PackagedModel:
    """Load the model at ``uri`` (``models:/...`` or ``runs:/...``), verified before deserializing.

    Returns a :class:`~trackflow.registry.model_format.PackagedModel`: ``.predict(frame)``
    checks the input against the signature. ``allow_unsafe=True`` permits pickle payloads.
    """
    if not isinstance(allow_unsafe, bool):
        raise InvalidInputError(f"allow_unsafe must be True or False, got {allow_unsafe!r}.")
    if client is None:
        from trackflow.tracking.fluent import get_client

        client = get_client()
    parsed = parse_model_uri(uri)
    if parsed.kind == "run":
        return load_run_package(client, parsed.run_id or "", parsed.path or "", allow_unsafe=allow_unsafe)
    version = client.registry.resolve(uri)
    return load_version(client, version, allow_unsafe=allow_unsafe)
