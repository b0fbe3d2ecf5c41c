"""Model URIs and version sources.

Model URIs name what to load::

    models:/<name>/<version>     exactly that version
    models:/<name>/<stage>       the newest version in development|staging|production|archived
    models:/<name>/latest        the newest version
    models:/<name>@<alias>       the version the alias points to
    runs:/<run_id>/<path>        a package logged as an artifact of a run

A version *source* is where its package lives: ``runs:/<run_id>/<path>`` or a URI (or
absolute local path) strictly inside the artifact root, under the run's own folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from trackflow.exceptions import InvalidInputError, NotFoundError
from trackflow.registry.entities import ModelVersion, VersionStatus
from trackflow.registry.stages import Stage
from trackflow.registry.validation import (
    validate_alias,
    validate_model_name,
    validate_version,
)
from trackflow.tracking.validation import validate_run_id

if TYPE_CHECKING:
    from trackflow.registry.store.base import RegistryTransaction

__all__ = [
    "ModelUri",
    "parse_model_uri",
    "parse_source",
    "run_source",
    "resolve_version",
    "no_model_error",
    "unknown_model_error",
    "not_found_error",
]

UriKind = Literal["version", "stage", "latest", "alias", "run"]
_STAGE_NAMES = frozenset(stage.value for stage in Stage)
_URI_HINT = (
    "Use models:/<name>/<version>, models:/<name>/<stage>, models:/<name>/latest, "
    "models:/<name>@<alias> or runs:/<run_id>/<path>."
)
_SOURCE_HINT = "Pass runs:/<run_id>/<path> of a package logged with the run (or its URI inside the artifact root)."


@dataclass(frozen=True)
class ModelUri:
    """A parsed model URI."""

    kind: UriKind
    name: str | None = None
    version: int | None = None
    stage: Stage | None = None
    alias: str | None = None
    run_id: str | None = None
    path: str | None = None

    def __str__(self) -> str:
        if self.kind == "run":
            return run_source(self.run_id or "", self.path or "")
        if self.kind == "alias":
            return f"models:/{self.name}@{self.alias}"
        tail = {"version": str(self.version), "stage": self.stage.value if self.stage else "", "latest": "latest"}
        return f"models:/{self.name}/{tail[self.kind]}"


def run_source(run_id: str, path: str) -> str:
    """The canonical source of a package logged by a run: ``runs:/<run_id>/<path>``."""
    return f"runs:/{run_id}/{path}"


def _artifact_path(path: str, uri: str) -> str:
    from trackflow.tracking.artifacts import validate_artifact_path

    try:
        return validate_artifact_path(path)
    except InvalidInputError as exc:
        raise InvalidInputError(f"Invalid artifact path in {uri!r}: {exc}", hint=_URI_HINT) from None


def _parse_runs(uri: str) -> ModelUri:
    rest = uri[len("runs:/") :]
    run_part, _, path = rest.partition("/")
    try:
        run_id = validate_run_id(run_part)
    except InvalidInputError:
        raise InvalidInputError(f"Malformed model URI {uri!r}: {run_part!r} is not a run id.", hint=_URI_HINT) from None
    if not path:
        raise InvalidInputError(f"Malformed model URI {uri!r}: the artifact path is missing.", hint=_URI_HINT)
    return ModelUri(kind="run", run_id=run_id, path=_artifact_path(path, uri))


def parse_model_uri(uri: Any) -> ModelUri:
    """Parse a model URI (see the module docstring); malformed -> InvalidInputError."""
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidInputError(f"A model URI must be a non-empty string, got {uri!r}.", hint=_URI_HINT)
    if uri.startswith("runs:/"):
        return _parse_runs(uri)
    if not uri.startswith("models:/"):
        raise InvalidInputError(f"Malformed model URI {uri!r}: it must start with models:/ or runs:/.", hint=_URI_HINT)
    rest = uri[len("models:/") :]
    try:
        if "/" not in rest and "@" in rest:
            name, alias = rest.split("@", 1)
            return ModelUri(kind="alias", name=validate_model_name(name), alias=validate_alias(alias))
        name, slash, selector = rest.partition("/")
        if not slash or not selector or "/" in selector:
            raise InvalidInputError(f"Malformed model URI {uri!r}.", hint=_URI_HINT)
        name = validate_model_name(name)
    except InvalidInputError as exc:
        if exc.hint == _URI_HINT:
            raise
        raise InvalidInputError(f"Malformed model URI {uri!r}: {exc}", hint=exc.hint or _URI_HINT) from None
    if selector.isascii() and selector.isdigit():
        try:
            return ModelUri(kind="version", name=name, version=validate_version(selector))
        except InvalidInputError:
            raise InvalidInputError(f"Malformed model URI {uri!r}: bad version {selector!r}.", hint=_URI_HINT) from None
    if selector.lower() == "latest":
        return ModelUri(kind="latest", name=name)
    try:
        return ModelUri(kind="stage", name=name, stage=Stage(selector.lower()))
    except ValueError:
        raise InvalidInputError(
            f"Malformed model URI {uri!r}: {selector!r} is neither a version number, a stage nor 'latest'.",
            hint=_URI_HINT,
        ) from None


def parse_source(source: Any, artifacts: Any) -> tuple[str, str]:
    """``(run_id, path)`` of a package source, checked to lie inside the run's artifact folder.

    ``artifacts`` is the Client's :class:`~trackflow.tracking.artifacts.ArtifactStore`.
    Anything outside the root (``file:///etc``, ``..``, ``//proc/self/root``, fragments,
    queries, other schemes) raises InvalidInputError.
    """
    if not isinstance(source, str) or not source.strip():
        raise InvalidInputError(f"A version source must be a non-empty string, got {source!r}.", hint=_SOURCE_HINT)
    if source.startswith("runs:/"):
        parsed = _parse_runs(source)
        return parsed.run_id or "", parsed.path or ""
    if not artifacts.contains_uri(source):
        raise InvalidInputError(
            f"Version source {source!r} is not inside the artifact root {artifacts.root_uri}.", hint=_SOURCE_HINT
        )
    root = artifacts.root_uri.rstrip("/") + "/"
    candidate = source if "://" in source else "file://" + source
    if not candidate.startswith(root):
        raise InvalidInputError(
            f"Version source {source!r} is not inside the artifact root {artifacts.root_uri}.", hint=_SOURCE_HINT
        )
    key = candidate[len(root) :]
    run_part, _, path = key.partition("/")
    try:
        run_id = validate_run_id(run_part)
    except InvalidInputError:
        raise InvalidInputError(
            f"Version source {source!r} is not inside a run's artifact folder.", hint=_SOURCE_HINT
        ) from None
    if run_part != run_id or not path:
        raise InvalidInputError(
            f"Version source {source!r} is not a package inside a run's artifact folder.", hint=_SOURCE_HINT
        )
    return run_id, _artifact_path(path, source)


# -------------------------------------------------------------------------- resolution


def resolve_version(tx: RegistryTransaction, parsed: ModelUri) -> ModelVersion:
    """The version a parsed ``models:/`` URI names, read through a registry transaction.

    A stage or ``latest`` picks the newest READY version (so does ``@<stage>`` when the
    model has no alias of that name, as ``trackflow serve`` follows it); nothing found raises
    NotFoundError listing the model's versions (with stages) and aliases.
    """
    name = parsed.name or ""
    if tx.read_registered_model(name) is None:
        raise no_model_error(tx, name)
    found = None
    if parsed.kind == "version":
        found = tx.read_model_version(name, parsed.version)  # type: ignore[arg-type]  # kind "version" has one
    elif parsed.kind == "alias":
        number = tx.read_model_aliases(name).get(parsed.alias)  # type: ignore[arg-type]  # kind "alias" has one
        found = tx.read_model_version(name, number) if number is not None else None
        if number is None and parsed.alias in _STAGE_NAMES:  # @production with no such alias: the stage
            candidates = tx.read_model_versions(name, stages=[parsed.alias], statuses=[VersionStatus.READY.value])
            found = candidates[-1] if candidates else None
    elif parsed.kind in ("stage", "latest"):
        stages = [parsed.stage.value] if parsed.stage is not None else None
        candidates = tx.read_model_versions(name, stages=stages, statuses=[VersionStatus.READY.value])
        found = candidates[-1] if candidates else None
    if found is None:
        raise not_found_error(tx, name, f"{parsed} resolves to no version.")
    return found


def no_model_error(tx: RegistryTransaction, name: str) -> NotFoundError:
    """NotFoundError for an unknown model, listing the registered ones."""
    return unknown_model_error(name, [m.name for m in tx.read_registered_models()])


def unknown_model_error(name: str, known: Sequence[str]) -> NotFoundError:
    """NotFoundError for an unknown model ``name``, listing the ``known`` ones (by name)."""
    listing = ", ".join(known[:20]) + (f" (+{len(known) - 20} more)" if len(known) > 20 else "")
    return NotFoundError(
        f"No registered model named {name!r}. Registered models: {listing or 'none'}.",
        hint="Register one with registry.register_model(model, name, run_id=...).",
    )


def not_found_error(tx: RegistryTransaction, name: str, message: str) -> NotFoundError:
    """NotFoundError with ``message``, listing the model's versions (and stages) and aliases."""
    if tx.read_registered_model(name) is None:
        return no_model_error(tx, name)
    versions = [f"{v.version} ({v.stage.value})" for v in tx.read_model_versions(name)]
    aliases = [f"{a} -> {v}" for a, v in tx.read_model_aliases(name).items()]
    shown = ", ".join(versions[-30:]) or "none"
    if len(versions) > 30:
        shown = f"... {shown}"
    return NotFoundError(
        f"{message} Versions: {shown}; aliases: {', '.join(aliases) or 'none'}.",
        hint=f"Use models:/{name}/<version>, models:/{name}/<stage>, models:/{name}/latest or models:/{name}@<alias>.",
    )
