"""Registered models: create (race-safe), lock, read, update, tags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, select, update

from trackflow.registry.entities import RegisteredModel
from trackflow.registry.store.orm import (
    ModelAliasRow,
    ModelVersionRow,
    RegisteredModelRow,
    RegisteredModelTagRow,
)
from trackflow.registry.store.records import model_entities
from trackflow.tracking.store.sql import SessionOps, dialect_insert, rowcount, upsert_statement

__all__ = ["ModelOps"]


class ModelOps(SessionOps):
    """The registered-model operations of :class:`~trackflow.registry.store.base.RegistryTransaction`."""

    def ensure_registered_model(self, name: str, *, description: str | None, now: int) -> bool:
        row = {"name": name, "description": description, "created_at": now, "updated_at": now}
        statement = (
            dialect_insert(self.session, RegisteredModelRow)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["name"])
            .returning(RegisteredModelRow.name)
        )
        return self.session.execute(statement).first() is not None

    def lock_registered_model(self, name: str) -> bool:
        statement = select(RegisteredModelRow.name).where(RegisteredModelRow.name == name).with_for_update()
        return self.session.execute(statement).first() is not None

    def read_registered_model(self, name: str) -> RegisteredModel | None:
        found = self._read_models([name])
        return found[0] if found else None

    def read_registered_models(self) -> list[RegisteredModel]:
        return self._read_models(None)

    def _read_models(self, names: Sequence[str] | None) -> list[RegisteredModel]:
        """Models by name (every model for None), with tags, aliases and latest version."""
        session = self.session
        statement = select(RegisteredModelRow).order_by(RegisteredModelRow.name)
        if names is not None:
            statement = statement.where(RegisteredModelRow.name.in_(list(names)))
        rows = list(session.scalars(statement))
        if not rows:
            return []
        wanted = [r.name for r in rows]
        tag_rows = select(RegisteredModelTagRow.model_name, RegisteredModelTagRow.key, RegisteredModelTagRow.value)
        alias_rows = select(ModelAliasRow.model_name, ModelAliasRow.alias, ModelAliasRow.version)
        latest_rows = select(ModelVersionRow.model_name, func.max(ModelVersionRow.version)).group_by(
            ModelVersionRow.model_name
        )
        if names is not None:
            tag_rows = tag_rows.where(RegisteredModelTagRow.model_name.in_(wanted))
            alias_rows = alias_rows.where(ModelAliasRow.model_name.in_(wanted))
            latest_rows = latest_rows.where(ModelVersionRow.model_name.in_(wanted))
        return model_entities(
            rows,
            tag_rows=session.execute(tag_rows),
            alias_rows=session.execute(alias_rows.order_by(ModelAliasRow.alias)),
            latest_rows=session.execute(latest_rows),
        )

    def update_registered_model(self, name: str, values: Mapping[str, Any]) -> bool:
        statement = update(RegisteredModelRow).where(RegisteredModelRow.name == name).values(**dict(values))
        return bool(rowcount(self.session.execute(statement)))

    def set_registered_model_tags(self, name: str, tags: Mapping[str, str]) -> None:
        if not tags:
            return
        statement = upsert_statement(self.session, RegisteredModelTagRow, ["model_name", "key"], ["value"])
        self.session.connection().execute(
            statement, [{"model_name": name, "key": k, "value": v} for k, v in tags.items()]
        )

    def delete_registered_model_tags(self, name: str, keys: Sequence[str]) -> int:
        if not keys:
            return 0
        statement = delete(RegisteredModelTagRow).where(
            RegisteredModelTagRow.model_name == name, RegisteredModelTagRow.key.in_(list(keys))
        )
        return rowcount(self.session.execute(statement))
