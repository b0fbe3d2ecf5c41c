"""Experiments: named groups of runs, created on first use."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from trackflow.tracking.entities import Experiment, now_ms
from trackflow.tracking.store.convert import to_experiment
from trackflow.tracking.store.orm import ExperimentRow
from trackflow.tracking.store.sql import insert_ignore

__all__ = ["get_or_create_experiment", "read_experiment", "read_experiment_by_name", "read_experiments"]


def get_or_create_experiment(session: Session, name: str) -> Experiment:
    """Return the experiment called ``name``, creating it if needed (race-safe)."""
    existing = read_experiment_by_name(session, name)
    if existing is not None:
        return existing
    insert_ignore(
        session,
        ExperimentRow,
        [{"id": uuid.uuid4().hex, "name": name, "created_at": now_ms()}],
        ["name"],
    )
    created = read_experiment_by_name(session, name)
    assert created is not None
    return created


def read_experiment(session: Session, experiment_id: str) -> Experiment | None:
    """The experiment with this id, or None."""
    row = session.get(ExperimentRow, experiment_id)
    return to_experiment(row) if row else None


def read_experiment_by_name(session: Session, name: str) -> Experiment | None:
    """The experiment with this name, or None."""
    row = session.scalars(select(ExperimentRow).where(ExperimentRow.name == name)).first()
    return to_experiment(row) if row else None


def read_experiments(session: Session) -> list[Experiment]:
    """All experiments, by name."""
    return [to_experiment(r) for r in session.scalars(select(ExperimentRow).order_by(ExperimentRow.name))]
