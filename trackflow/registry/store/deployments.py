"""Deployments of model versions: which version is served where, since when."""

from __future__ import annotations

import json

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from trackflow.registry.entities import ModelDeployment
from trackflow.registry.store.orm import DeploymentRow
from trackflow.tracking.entities import ms_to_datetime

__all__ = ["ACTIVE", "create_deployment", "end_deployment", "read_deployment", "read_model_deployments"]

ACTIVE = "active"


def create_deployment(session: Session, values: dict[str, Any], *, replaced_status: str) -> None:
    """Record a new active deployment; the active one with the same name ends as replaced."""
    table = DeploymentRow.__table__
    session.connection().execute(
        update(table)
        .where(table.c.name == values["name"], table.c.status == ACTIVE)
        .values(status=replaced_status, until=values["since"])
    )
    session.connection().execute(table.insert(), [{**values, "status": ACTIVE, "until": None}])


def end_deployment(session: Session, deployment_id: str, *, status: str, until: int) -> bool | None:
    """End an active deployment: True if ended, False if it was not active, None if unknown."""
    table = DeploymentRow.__table__
    found = session.connection().execute(select(table.c.status).where(table.c.id == deployment_id)).first()
    if found is None:
        return None
    if found.status != ACTIVE:
        return False
    session.connection().execute(
        update(table).where(table.c.id == deployment_id, table.c.status == ACTIVE).values(status=status, until=until)
    )
    return True


def read_deployment(session: Session, deployment_id: str) -> ModelDeployment | None:
    """One deployment record, or None."""
    row = session.get(DeploymentRow, deployment_id)
    return _to_entity(row) if row is not None else None


def read_model_deployments(session: Session, name: str, *, version: int | None = None) -> list[ModelDeployment]:
    """Where a model (or one version) is or was served, newest first."""
    statement = select(DeploymentRow).where(DeploymentRow.model_name == name)
    if version is not None:
        statement = statement.where(DeploymentRow.version == version)
    rows = session.scalars(statement.order_by(DeploymentRow.since.desc(), DeploymentRow.id))
    return [_to_entity(row) for row in rows]


def _to_entity(row: DeploymentRow) -> ModelDeployment:
    return ModelDeployment(
        id=row.id,
        name=row.name,
        model_name=row.model_name,
        version=row.version,
        target=row.target,
        status=row.status,
        since=ms_to_datetime(row.since),  # type: ignore[arg-type]
        until=ms_to_datetime(row.until),
        flow_run_id=row.flow_run_id,
        details=json.loads(row.details_json) if row.details_json else {},
    )
