"""Model aliases: named pointers to one version each, moved atomically."""

from __future__ import annotations

from sqlalchemy import delete, select

from trackflow.registry.store.orm import ModelAliasRow
from trackflow.tracking.store.sql import SessionOps, rowcount, upsert_statement

__all__ = ["AliasOps"]


class AliasOps(SessionOps):
    """The alias operations of :class:`~trackflow.registry.store.base.RegistryTransaction`."""

    def set_model_alias(self, name: str, alias: str, version: int, *, now: int) -> None:
        # One upsert, so readers see the old or the new version.
        statement = upsert_statement(self.session, ModelAliasRow, ["model_name", "alias"], ["version", "updated_at"])
        self.session.connection().execute(
            statement, [{"model_name": name, "alias": alias, "version": version, "updated_at": now}]
        )

    def delete_model_alias(self, name: str, alias: str) -> bool:
        statement = delete(ModelAliasRow).where(ModelAliasRow.model_name == name, ModelAliasRow.alias == alias)
        return bool(rowcount(self.session.execute(statement)))

    def read_model_aliases(self, name: str) -> dict[str, int]:
        statement = (
            select(ModelAliasRow.alias, ModelAliasRow.version)
            .where(ModelAliasRow.model_name == name)
            .order_by(ModelAliasRow.alias)
        )
        return {alias: version for alias, version in self.session.execute(statement)}
