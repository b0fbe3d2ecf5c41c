"""Experiments: named groups of runs, created on first use."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from trackflow.tracking.entities import Experiment, now_ms
from trackflow.tracking.store.convert import to_experiment
from trackflow.tracking.store.orm import ExperimentRow
from trackflow.tracking.store.sql import SessionOps, insert_ignore

__all__ = ["ExperimentOps"]


class ExperimentOps(SessionOps):
    """The experiment operations of :class:`~trackflow.tracking.store.base.TrackingTransaction`."""

    def get_or_create_experiment(self, name: str) -> Experiment:
        existing = self.read_experiment_by_name(name)
        if existing is not None:
            return existing
        insert_ignore(
            self.session,
            ExperimentRow,
            [{"id": uuid.uuid4().hex, "name": name, "created_at": now_ms()}],
            ["name"],
        )
        created = self.read_experiment_by_name(name)
        assert created is not None
        return created

    def read_experiment_by_name(self, name: str) -> Experiment | None:
        row = self.session.scalars(select(ExperimentRow).where(ExperimentRow.name == name)).first()
        return to_experiment(row) if row else None

    def read_experiments(self) -> list[Experiment]:
        return [to_experiment(r) for r in self.session.scalars(select(ExperimentRow).order_by(ExperimentRow.name))]
