"""Deployments of model versions: which version is served where, since when."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Table, select, update

from trackflow.registry.entities import ModelDeployment
from trackflow.registry.store.orm import DeploymentRow
from trackflow.registry.store.records import deployment_entity
from trackflow.tracking.store.sql import SessionOps

__all__ = ["ACTIVE", "DeploymentOps"]

ACTIVE = "active"
_DEPLOYMENTS = cast(Table, DeploymentRow.__table__)


class DeploymentOps(SessionOps):
    """The deployment operations of :class:`~trackflow.registry.store.base.RegistryTransaction`."""

    def create_deployment(self, values: Mapping[str, Any], *, replaced_status: str) -> None:
        table, connection = _DEPLOYMENTS, self.session.connection()
        connection.execute(
            update(table)
            .where(table.c.name == values["name"], table.c.status == ACTIVE)
            .values(status=replaced_status, until=values["since"])
        )
        connection.execute(table.insert(), [{**values, "status": ACTIVE, "until": None}])

    def end_deployment(self, deployment_id: str, *, status: str, until: int) -> bool | None:
        table, connection = _DEPLOYMENTS, self.session.connection()
        found = connection.execute(select(table.c.status).where(table.c.id == deployment_id)).first()
        if found is None:
            return None
        if found.status != ACTIVE:
            return False
        connection.execute(
            update(table).where(table.c.id == deployment_id, table.c.status == ACTIVE).values(status=status, until=until)
        )
        return True

    def read_deployment(self, deployment_id: str) -> ModelDeployment | None:
        row = self.session.get(DeploymentRow, deployment_id)
        return deployment_entity(row) if row is not None else None

    def read_model_deployments(self, name: str, *, version: int | None = None) -> list[ModelDeployment]:
        statement = select(DeploymentRow).where(DeploymentRow.model_name == name)
        if version is not None:
            statement = statement.where(DeploymentRow.version == version)
        rows = self.session.scalars(statement.order_by(DeploymentRow.since.desc(), DeploymentRow.id))
        return [deployment_entity(row) for row in rows]
