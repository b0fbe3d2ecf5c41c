"""Deployments of model versions (read side; the serving feature writes them)."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from trackflow.registry.entities import ModelDeployment
from trackflow.registry.store.orm import DeploymentRow
from trackflow.tracking.entities import ms_to_datetime

__all__ = ["read_model_deployments"]


def read_model_deployments(session: Session, name: str, *, version: int | None = None) -> list[ModelDeployment]:
    """Where a model (or one version) is or was served, newest first."""
    statement = select(DeploymentRow).where(DeploymentRow.model_name == name)
    if version is not None:
        statement = statement.where(DeploymentRow.version == version)
    rows = session.scalars(statement.order_by(DeploymentRow.since.desc(), DeploymentRow.id))
    return [
        ModelDeployment(
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
        for row in rows
    ]
