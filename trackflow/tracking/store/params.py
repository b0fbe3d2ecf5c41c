"""Params: write-once values per run and key."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from trackflow.exceptions import ConflictError
from trackflow.tracking.store.orm import ParamRow
from trackflow.tracking.store.sql import chunks, insert_ignore

__all__ = ["log_params", "read_params", "find_param_conflicts", "conflict_error"]


def read_params(session: Session, run_id: str, keys: list[str] | None = None) -> dict[str, str]:
    """Params of a run (only ``keys`` when given)."""
    found: dict[str, str] = {}
    statement = select(ParamRow.key, ParamRow.value).where(ParamRow.run_id == run_id)
    if keys is None:
        return dict(session.connection().execute(statement).tuples().all())
    for part in chunks(keys):
        found.update(session.connection().execute(statement.where(ParamRow.key.in_(part))).tuples().all())
    return found


def find_param_conflicts(session: Session, run_id: str, params: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(key, stored value, new value) for every param that is stored with another value."""
    stored = read_params(session, run_id, list(params))
    return [(key, stored[key], value) for key, value in params.items() if key in stored and stored[key] != value]


def log_params(session: Session, run_id: str, params: Mapping[str, str]) -> None:
    """Store params; the same value again is fine, another value raises ConflictError.

    Inserts what is new, then reads every key back: a key stored with another value
    (before, or by a concurrent writer) raises, and the caller's transaction rolls back.
    """
    if not params:
        return
    inserted = insert_ignore(
        session,
        ParamRow,
        [{"run_id": run_id, "key": k, "value": v} for k, v in params.items()],
        ["run_id", "key"],
    )
    if inserted == len(params):
        return  # every key was new: nothing to compare
    conflicts = find_param_conflicts(session, run_id, params)
    if conflicts:
        raise conflict_error(run_id, conflicts)


def conflict_error(run_id: str, conflicts: list[tuple[str, str, str]]) -> ConflictError:
    """The error for params logged again with different values."""
    described = "; ".join(f"{key!r}: stored {old!r}, new {new!r}" for key, old, new in conflicts[:5])
    return ConflictError(
        f"Param(s) of run {run_id} already logged with a different value: {described}.",
        hint="Params are write-once per run; use a new key, a metric, or a new run.",
    )

