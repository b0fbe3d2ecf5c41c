"""Params: write-once values per run and key."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select

from trackflow.tracking.store.orm import ParamRow
from trackflow.tracking.store.runs import rejected_rows
from trackflow.tracking.store.sql import SessionOps, chunks, driver_insert
from trackflow.tracking.validation import param_conflict_error

__all__ = ["ParamOps"]

_COLUMNS = ("run_id", "key", "value")
_IGNORE = ' ON CONFLICT ("run_id", "key") DO NOTHING'
"""A key stored already is kept (then compared, see :meth:`ParamOps.log_params`)."""


class ParamOps(SessionOps):
    """The param operations of :class:`~trackflow.tracking.store.base.TrackingTransaction`."""

    def read_params(self, run_id: str, keys: list[str] | None = None) -> dict[str, str]:
        found: dict[str, str] = {}
        statement = select(ParamRow.key, ParamRow.value).where(ParamRow.run_id == run_id)
        connection = self.session.connection()
        if keys is None:
            return dict(connection.execute(statement).all())
        for part in chunks(keys):
            found.update(connection.execute(statement.where(ParamRow.key.in_(part))).all())
        return found

    def log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        # Inserts what is new, then (unless every key was new) reads every key back: a key
        # stored with another value, before or by a concurrent writer, raises.
        if not params:
            return
        with rejected_rows(f"param(s) {', '.join(map(repr, list(params)[:3]))} of run {run_id}"):
            inserted = driver_insert(
                self.session, "params", _COLUMNS, [(run_id, k, v) for k, v in params.items()], suffix=_IGNORE
            )
        if inserted == len(params):
            return  # every key was new: nothing to compare
        stored = self.read_params(run_id, list(params))
        conflicts = [(key, stored[key], new) for key, new in params.items() if key in stored and stored[key] != new]
        if conflicts:
            raise param_conflict_error(run_id, conflicts)

