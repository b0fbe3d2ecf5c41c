"""Stage transitions: the append-only audit trail of every stage change."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from trackflow.registry.entities import StageTransition
from trackflow.registry.store.orm import StageTransitionRow
from trackflow.registry.store.records import transition_entity
from trackflow.tracking.store.sql import SessionOps

__all__ = ["TransitionOps"]


class TransitionOps(SessionOps):
    """The stage-transition operations of :class:`~trackflow.registry.store.base.RegistryTransaction`."""

    def create_stage_transition(self, values: Mapping[str, Any]) -> StageTransition:
        columns = dict(values)
        details = columns.pop("details", None)
        columns["details_json"] = json.dumps(details, allow_nan=False) if details else None
        row = StageTransitionRow(**columns)
        self.session.add(row)
        self.session.flush()
        return transition_entity(row)

    def read_stage_transitions(self, name: str, *, version: int | None = None) -> list[StageTransition]:
        statement = select(StageTransitionRow).where(StageTransitionRow.model_name == name)
        if version is not None:
            statement = statement.where(StageTransitionRow.version == version)
        return [transition_entity(r) for r in self.session.scalars(statement.order_by(StageTransitionRow.id))]
