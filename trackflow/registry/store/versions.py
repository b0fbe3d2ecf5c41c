"""Model versions: numbering, create, read (with tags and aliases), update, tags."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from trackflow.registry.entities import ModelVersion, Stage, VersionStatus
from trackflow.registry.store.orm import (
    ModelAliasRow,
    ModelVersionRow,
    ModelVersionTagRow,
)
from trackflow.tracking.entities import ms_to_datetime
from trackflow.tracking.store.sql import upsert_statement

__all__ = [
    "next_model_version",
    "create_model_version",
    "read_model_version",
    "read_model_versions",
    "update_model_version",
    "set_model_version_tags",
    "delete_model_version_tags",
]


def next_model_version(session: Session, name: str) -> int:
    """max(version) + 1 for the model (1 for its first version).

    Gapless and unique only while the model row is locked (see ``lock_registered_model``).
    """
    current = session.execute(select(func.max(ModelVersionRow.version)).where(ModelVersionRow.model_name == name)).scalar()
    return int(current or 0) + 1


def create_model_version(session: Session, values: dict[str, Any]) -> None:
    """Insert a version row from column values (the caller validated them)."""
    session.execute(ModelVersionRow.__table__.insert(), [values])


def read_model_version(session: Session, name: str, version: int) -> ModelVersion | None:
    """One version with its tags and aliases, or None."""
    statement = select(ModelVersionRow).where(ModelVersionRow.model_name == name, ModelVersionRow.version == version)
    return next(iter(_with_extras(session, name, list(session.scalars(statement)))), None)


def read_model_versions(
    session: Session, name: str, *, stages: Sequence[str] | None = None, statuses: Sequence[str] | None = None
) -> list[ModelVersion]:
    """Versions of a model by number, optionally filtered by stage and status."""
    statement = select(ModelVersionRow).where(ModelVersionRow.model_name == name)
    if stages is not None:
        statement = statement.where(ModelVersionRow.stage.in_(list(stages)))
    if statuses is not None:
        statement = statement.where(ModelVersionRow.status.in_(list(statuses)))
    rows = list(session.scalars(statement.order_by(ModelVersionRow.version)))
    return _with_extras(session, name, rows)


def _with_extras(session: Session, name: str, rows: list[ModelVersionRow]) -> list[ModelVersion]:
    if not rows:
        return []
    numbers = [r.version for r in rows]
    tags: dict[int, dict[str, str]] = defaultdict(dict)
    aliases: dict[int, list[str]] = defaultdict(list)
    tag_statement = select(ModelVersionTagRow.version, ModelVersionTagRow.key, ModelVersionTagRow.value).where(
        ModelVersionTagRow.model_name == name
    )
    if len(numbers) == 1:
        tag_statement = tag_statement.where(ModelVersionTagRow.version == numbers[0])
    for version, key, value in session.execute(tag_statement):
        tags[version][key] = value
    alias_statement = select(ModelAliasRow.version, ModelAliasRow.alias).where(ModelAliasRow.model_name == name)
    for version, alias in session.execute(alias_statement.order_by(ModelAliasRow.alias)):
        aliases[version].append(alias)
    return [_to_version(r, tags=dict(sorted(tags[r.version].items())), aliases=tuple(aliases[r.version])) for r in rows]


def _to_version(row: ModelVersionRow, *, tags: dict[str, str], aliases: tuple[str, ...]) -> ModelVersion:
    return ModelVersion(
        name=row.model_name,
        version=row.version,
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
    )


def update_model_version(session: Session, name: str, version: int, values: Mapping[str, Any]) -> bool:
    """Update columns of one version; False if it does not exist."""
    statement = (
        update(ModelVersionRow)
        .where(ModelVersionRow.model_name == name, ModelVersionRow.version == version)
        .values(**dict(values))
    )
    return bool(session.execute(statement).rowcount)


def set_model_version_tags(session: Session, name: str, version: int, tags: Mapping[str, str]) -> None:
    """Set tags of a version, overwriting existing values."""
    if not tags:
        return
    statement = upsert_statement(session, ModelVersionTagRow, ["model_name", "version", "key"], ["value"])
    rows = [{"model_name": name, "version": version, "key": k, "value": v} for k, v in tags.items()]
    session.connection().execute(statement, rows)


def delete_model_version_tags(session: Session, name: str, version: int, keys: Sequence[str]) -> int:
    """Remove tags of a version; how many existed."""
    if not keys:
        return 0
    result = session.execute(
        delete(ModelVersionTagRow).where(
            ModelVersionTagRow.model_name == name,
            ModelVersionTagRow.version == version,
            ModelVersionTagRow.key.in_(list(keys)),
        )
    )
    return int(result.rowcount or 0)
