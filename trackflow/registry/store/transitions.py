"""Stage transitions: the append-only audit trail of every stage change."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from trackflow.registry.entities import Stage, StageTransition
from trackflow.registry.store.orm import StageTransitionRow
from trackflow.tracking.entities import ms_to_datetime
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
        return _to_transition(row)

    def read_stage_transitions(self, name: str, *, version: int | None = None) -> list[StageTransition]:
        statement = select(StageTransitionRow).where(StageTransitionRow.model_name == name)
        if version is not None:
            statement = statement.where(StageTransitionRow.version == version)
        return [_to_transition(r) for r in self.session.scalars(statement.order_by(StageTransitionRow.id))]


def _to_transition(row: StageTransitionRow) -> StageTransition:
    return StageTransition(
        id=row.id,
        name=row.model_name,
        version=row.version,
        from_stage=Stage(row.from_stage) if row.from_stage else None,
        to_stage=Stage(row.to_stage),
        user=row.user,
        reason=row.reason,
        flow_run_id=row.flow_run_id,
        details=json.loads(row.details_json) if row.details_json else {},
        created_at=ms_to_datetime(row.created_at),  # type: ignore[arg-type]
    )
