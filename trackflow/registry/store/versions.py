"""Model versions: numbering, create, read (with tags and aliases), update, tags."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, delete, func, select, update

from trackflow.registry.entities import ModelVersion
from trackflow.registry.store.orm import (
    ModelAliasRow,
    ModelVersionRow,
    ModelVersionTagRow,
)
from trackflow.registry.store.records import version_entities
from trackflow.tracking.store.sql import SessionOps, rowcount, upsert_statement

__all__ = ["VersionOps"]

_VERSIONS = cast(Table, ModelVersionRow.__table__)


class VersionOps(SessionOps):
    """The model-version operations of :class:`~trackflow.registry.store.base.RegistryTransaction`."""

    def next_model_version(self, name: str) -> int:
        statement = select(func.max(ModelVersionRow.version)).where(ModelVersionRow.model_name == name)
        return int(self.session.execute(statement).scalar() or 0) + 1

    def create_model_version(self, values: Mapping[str, Any]) -> None:
        row = dict(values)
        files = row.pop("package_files", None)
        if files is not None:
            row["package_files_json"] = json.dumps(dict(sorted(files.items())))
        self.session.execute(_VERSIONS.insert(), [row])

    def read_model_version(self, name: str, version: int) -> ModelVersion | None:
        statement = select(ModelVersionRow).where(ModelVersionRow.model_name == name, ModelVersionRow.version == version)
        return next(iter(self._with_extras(name, list(self.session.scalars(statement)))), None)

    def read_model_versions(
        self, name: str, *, stages: Sequence[str] | None = None, statuses: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        statement = select(ModelVersionRow).where(ModelVersionRow.model_name == name)
        if stages is not None:
            statement = statement.where(ModelVersionRow.stage.in_(list(stages)))
        if statuses is not None:
            statement = statement.where(ModelVersionRow.status.in_(list(statuses)))
        return self._with_extras(name, list(self.session.scalars(statement.order_by(ModelVersionRow.version))))

    def _with_extras(self, name: str, rows: list[ModelVersionRow]) -> list[ModelVersion]:
        """Entities of version rows of one model, with their tags and aliases."""
        if not rows:
            return []
        numbers = [r.version for r in rows]
        tag_statement = select(ModelVersionTagRow.version, ModelVersionTagRow.key, ModelVersionTagRow.value).where(
            ModelVersionTagRow.model_name == name
        )
        if len(numbers) == 1:
            tag_statement = tag_statement.where(ModelVersionTagRow.version == numbers[0])
        alias_statement = select(ModelAliasRow.version, ModelAliasRow.alias).where(ModelAliasRow.model_name == name)
        return version_entities(
            rows,
            tag_rows=self.session.execute(tag_statement),
            alias_rows=self.session.execute(alias_statement.order_by(ModelAliasRow.alias)),
        )

    def update_model_version(self, name: str, version: int, values: Mapping[str, Any]) -> bool:
        statement = (
            update(ModelVersionRow)
            .where(ModelVersionRow.model_name == name, ModelVersionRow.version == version)
            .values(**dict(values))
        )
        return bool(rowcount(self.session.execute(statement)))

    def set_model_version_tags(self, name: str, version: int, tags: Mapping[str, str]) -> None:
        if not tags:
            return
        statement = upsert_statement(self.session, ModelVersionTagRow, ["model_name", "version", "key"], ["value"])
        rows = [{"model_name": name, "version": version, "key": k, "value": v} for k, v in tags.items()]
        self.session.connection().execute(statement, rows)

    def delete_model_version_tags(self, name: str, version: int, keys: Sequence[str]) -> int:
        if not keys:
            return 0
        statement = delete(ModelVersionTagRow).where(
            ModelVersionTagRow.model_name == name,
            ModelVersionTagRow.version == version,
            ModelVersionTagRow.key.in_(list(keys)),
        )
        return rowcount(self.session.execute(statement))
