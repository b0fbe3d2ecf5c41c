"""Model aliases: named pointers to one version each, moved atomically."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from trackflow.registry.store.orm import ModelAliasRow
from trackflow.tracking.store.sql import upsert_statement

__all__ = ["set_model_alias", "delete_model_alias", "read_model_aliases"]


def set_model_alias(session: Session, name: str, alias: str, version: int, *, now: int) -> None:
    """Point ``alias`` at ``version``: one upsert, so readers see the old or the new version."""
    statement = upsert_statement(session, ModelAliasRow, ["model_name", "alias"], ["version", "updated_at"])
    session.connection().execute(statement, [{"model_name": name, "alias": alias, "version": version, "updated_at": now}])


def delete_model_alias(session: Session, name: str, alias: str) -> bool:
    """Remove an alias; False if it was not set."""
    result = session.execute(delete(ModelAliasRow).where(ModelAliasRow.model_name == name, ModelAliasRow.alias == alias))
    return bool(result.rowcount)


def read_model_aliases(session: Session, name: str) -> dict[str, int]:
    """alias -> version for one model, by alias."""
    statement = (
        select(ModelAliasRow.alias, ModelAliasRow.version)
        .where(ModelAliasRow.model_name == name)
        .order_by(ModelAliasRow.alias)
    )
    return {alias: version for alias, version in session.execute(statement)}
