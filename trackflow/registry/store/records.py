"""Registry rows to frozen entities, for any row with the columns as attributes.

The SQLAlchemy operations (``models``, ``versions``, ``transitions``, ``deployments``) hand
their ORM rows here, and the DB-API read path (:mod:`trackflow.registry.store.listing`)
hands plain records with the same column names, so both build the same entities from the
same code. No SQLAlchemy import: the read path's commands start without it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from trackflow.registry.entities import (
    ModelDeployment,
    ModelVersion,
    RegisteredModel,
    Stage,
    StageTransition,
    VersionStatus,
)
from trackflow.tracking.entities import ms_to_datetime

__all__ = ["deployment_entity", "model_entities", "transition_entity", "version_entities", "version_entity"]


class _ModelColumns(Protocol):
    name: str
    description: str | None
    created_at: int
    updated_at: int


class _VersionColumns(Protocol):
    model_name: str
    version: int
    run_id: str | None
    source: str
    payload_sha256: str | None
    status: str
    stage: str
    description: str | None
    created_at: int
    updated_at: int
    package_files_json: str | None


class _TransitionColumns(Protocol):
    id: int
    model_name: str
    version: int
    from_stage: str | None
    to_stage: str
    user: str | None
    reason: str | None
    flow_run_id: str | None
    details_json: str | None
    created_at: int


class _DeploymentColumns(Protocol):
    id: str
    name: str
    model_name: str
    version: int
    target: str
    status: str
    since: int
    until: int | None
    flow_run_id: str | None
    details_json: str | None


def version_entity(row: _VersionColumns, *, tags: dict[str, str], aliases: tuple[str, ...]) -> ModelVersion:
    """A :class:`ModelVersion` from a ``model_versions`` row, its tags and its aliases."""
    return ModelVersion(
        name=row.model_name,
        version=int(row.version),
        run_id=row.run_id,
        source=row.source,
        payload_sha256=row.payload_sha256,
        status=VersionStatus(row.status),
        stage=Stage(row.stage),
        description=row.description,
        created_at=ms_to_datetime(row.created_at),  # type: ignore[arg-type]
        updated_at=ms_to_datetime(row.updated_at),  # type: ignore[arg-type]
        tags=tags,
        aliases=aliases,
        package_files=None if row.package_files_json is None else json.loads(row.package_files_json),
    )


def version_entities(
    rows: Sequence[_VersionColumns],
    *,
    tag_rows: Iterable[tuple[int, str, str]],
    alias_rows: Iterable[tuple[int, str]],
) -> list[ModelVersion]:
    """The :class:`ModelVersion` of each of one model's ``rows``, given that model's
    ``(version, key, value)`` tag rows and ``(version, alias)`` alias rows (ordered by alias)."""
    tags: dict[int, dict[str, str]] = defaultdict(dict)
    for version, key, value in tag_rows:
        tags[int(version)][key] = value
    aliases: dict[int, list[str]] = defaultdict(list)
    for version, alias in alias_rows:
        aliases[int(version)].append(alias)
    return [
        version_entity(row, tags=dict(sorted(tags[int(row.version)].items())), aliases=tuple(aliases[int(row.version)]))
        for row in rows
    ]


def model_entities(
    rows: Sequence[_ModelColumns],
    *,
    tag_rows: Iterable[tuple[str, str, str]],
    alias_rows: Iterable[tuple[str, str, int]],
    latest_rows: Iterable[tuple[str, int]],
) -> list[RegisteredModel]:
    """The :class:`RegisteredModel` of each of ``rows``, given ``(model, key, value)`` tag
    rows, ``(model, alias, version)`` alias rows (ordered by alias) and ``(model, newest
    version)`` rows."""
    tags: dict[str, dict[str, str]] = defaultdict(dict)
    for model, key, value in tag_rows:
        tags[model][key] = value
    aliases: dict[str, dict[str, int]] = defaultdict(dict)
    for model, alias, version in alias_rows:
        aliases[model][alias] = int(version)
    latest = {model: int(version) for model, version in latest_rows}
    return [
        RegisteredModel(
            name=row.name,
            description=row.description,
            tags=dict(sorted(tags[row.name].items())),
            aliases=aliases[row.name],
            latest_version=latest.get(row.name),
            created_at=ms_to_datetime(row.created_at),  # type: ignore[arg-type]
            updated_at=ms_to_datetime(row.updated_at),  # type: ignore[arg-type]
        )
        for row in rows
    ]


def transition_entity(row: _TransitionColumns) -> StageTransition:
    """A :class:`StageTransition` from a ``stage_transitions`` row."""
    return StageTransition(
        id=int(row.id),
        name=row.model_name,
        version=int(row.version),
        from_stage=Stage(row.from_stage) if row.from_stage else None,
        to_stage=Stage(row.to_stage),
        user=row.user,
        reason=row.reason,
        flow_run_id=row.flow_run_id,
        details=_details(row.details_json),
        created_at=ms_to_datetime(row.created_at),  # type: ignore[arg-type]
    )


def deployment_entity(row: _DeploymentColumns) -> ModelDeployment:
    """A :class:`ModelDeployment` from a ``deployments`` row."""
    return ModelDeployment(
        id=row.id,
        name=row.name,
        model_name=row.model_name,
        version=int(row.version),
        target=row.target,
        status=row.status,
        since=ms_to_datetime(row.since),  # type: ignore[arg-type]
        until=ms_to_datetime(row.until),
        flow_run_id=row.flow_run_id,
        details=_details(row.details_json),
    )


def _details(details_json: str | None) -> dict[str, Any]:
    return json.loads(details_json) if details_json else {}
