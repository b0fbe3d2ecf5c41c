"""The read-only ``trackflow models`` commands through the DB-API read path (no SQLAlchemy
on SQLite).

The same entities the registry store returns (:mod:`trackflow.registry.entities`, built by
:mod:`trackflow.registry.store.records`), in the same order: registered models with their
tags, aliases and latest version; a model's versions with their tags and aliases; its
stage transitions; its deployments. Each function reads one snapshot.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from trackflow.registry.entities import ModelDeployment, ModelVersion, RegisteredModel, StageTransition
from trackflow.registry.store.records import deployment_entity, model_entities, transition_entity, version_entities
from trackflow.tracking.store.read_path import ReadPath

__all__ = [
    "ModelListing",
    "read_model_deployments",
    "read_model_listing",
    "read_model_versions",
    "read_registered_models",
    "read_stage_transitions",
]

_MODEL_COLUMNS = ("name", "description", "created_at", "updated_at")
_VERSION_COLUMNS = (
    "model_name", "version", "run_id", "source", "payload_sha256", "status", "stage", "description", "created_at",
    "updated_at", "package_files_json",
)  # fmt: skip
_TRANSITION_COLUMNS = (
    "id", "model_name", "version", "from_stage", "to_stage", "user", "reason", "flow_run_id", "details_json",
    "created_at",
)  # fmt: skip
_DEPLOYMENT_COLUMNS = (
    "id", "name", "model_name", "version", "target", "status", "since", "until", "flow_run_id", "details_json",
)  # fmt: skip


@dataclass(frozen=True)
class ModelListing:
    """A registered model and its version numbers by stage (each list ascending)."""

    model: RegisteredModel
    stages: dict[str, list[int]]


def read_model_listing(reader: ReadPath) -> list[ModelListing]:
    """Every registered model by name, with its versions by stage."""
    with reader.snapshot():
        models = _read_models(reader, None)
        stages: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for name, version, stage in reader.rows(
            "SELECT model_name, version, stage FROM model_versions ORDER BY model_name, version"
        ):
            stages[name][stage].append(int(version))
    return [
        ModelListing(model=model, stages={stage: list(numbers) for stage, numbers in stages[model.name].items()})
        for model in models
    ]


def read_registered_models(reader: ReadPath, names: Sequence[str] | None = None) -> list[RegisteredModel]:
    """The registered models named ``names`` (every one for None), by name."""
    with reader.snapshot():
        return _read_models(reader, names)


def read_model_versions(reader: ReadPath, name: str, *, stages: Sequence[str] | None = None) -> list[ModelVersion]:
    """The versions of model ``name`` by number (only those in ``stages`` when given), with
    their tags and aliases."""
    where, params = "model_name = ?", [name]
    if stages is not None:
        where += f" AND stage IN ({_marks(stages)})"
        params += list(stages)
    with reader.snapshot():
        return version_entities(
            _records(reader, "model_versions", _VERSION_COLUMNS, where, params, order="version"),
            tag_rows=reader.rows("SELECT version, key, value FROM model_version_tags WHERE model_name = ?", [name]),
            alias_rows=reader.rows(
                "SELECT version, alias FROM model_aliases WHERE model_name = ? ORDER BY alias", [name]
            ),
        )


def read_stage_transitions(reader: ReadPath, name: str, *, version: int | None = None) -> list[StageTransition]:
    """The stage transitions of model ``name`` (or of one version), oldest first."""
    where = "model_name = ?"
    params: list[Any] = [name]
    if version is not None:
        where += " AND version = ?"
        params.append(version)
    with reader.snapshot():
        rows = _records(reader, "stage_transitions", _TRANSITION_COLUMNS, where, params, order="id")
    return [transition_entity(row) for row in rows]


def read_model_deployments(reader: ReadPath, name: str) -> list[ModelDeployment]:
    """Where the versions of model ``name`` are (or were) served, newest first."""
    with reader.snapshot():
        rows = _records(reader, "deployments", _DEPLOYMENT_COLUMNS, "model_name = ?", [name], order="since DESC, id")
    return [deployment_entity(row) for row in rows]


def _read_models(reader: ReadPath, names: Sequence[str] | None) -> list[RegisteredModel]:
    """Models by name (every model for None), with tags, aliases and latest version; the
    tag, alias and version reads narrowed to the models asked for."""
    if names is not None and not names:
        return []
    where, params = ("", []) if names is None else (f"name IN ({_marks(names)})", list(names))
    rows = _records(reader, "registered_models", _MODEL_COLUMNS, where, params, order="name")
    if not rows:
        return []
    owned, owners = ("", []) if names is None else (f" WHERE model_name IN ({_marks(names)})", list(names))
    return model_entities(
        rows,
        tag_rows=reader.rows(f"SELECT model_name, key, value FROM registered_model_tags{owned}", owners),
        alias_rows=reader.rows(f"SELECT model_name, alias, version FROM model_aliases{owned} ORDER BY alias", owners),
        latest_rows=reader.rows(
            f"SELECT model_name, MAX(version) FROM model_versions{owned} GROUP BY model_name", owners
        ),
    )


def _records(
    reader: ReadPath, table: str, columns: Sequence[str], where: str, params: Sequence[Any], *, order: str
) -> list[Any]:
    """The rows of ``table`` (those matching ``where``, every one when it is empty) as records
    with the columns as attributes (what the converters read)."""
    listed = ", ".join(f'"{column}"' for column in columns)  # quoted: "user" is reserved in PostgreSQL
    condition = f" WHERE {where}" if where else ""
    rows = reader.rows(f"SELECT {listed} FROM {table}{condition} ORDER BY {order}", params)
    return [SimpleNamespace(**dict(zip(columns, row, strict=True))) for row in rows]


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)
