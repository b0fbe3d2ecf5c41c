"""Run life cycle: soft delete and restore, purging deleted runs for good, experiment renames.

A deleted run has a row in ``run_deletions`` (migration 0006): it is kept whole, left out
of listings and searches, and can be restored. :meth:`LifecycleOps.purge_runs` removes runs
for good: their rows (params, metrics, tags, notes, artifact records cascade), their
deletion marks and the lineage they recorded. It never removes a run a registered model
version was made from: :meth:`LifecycleOps.read_registered_run_ids` reads those from the
registry's ``model_versions`` table in the same database (tracking does not import the
registry, so the table is named here in SQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, bindparam, delete, exists, insert, inspect, select, text, update
from sqlalchemy.orm import Mapped, mapped_column

from trackflow.tracking.entities import now_ms
from trackflow.tracking.search import Expr, OrderBy
from trackflow.tracking.store.keyed_search import search_page
from trackflow.tracking.store.orm import Base, ExperimentRow, LineageEdgeRow, LineageNodeRow, RunRow
from trackflow.tracking.store.sql import SessionOps, chunks

__all__ = ["LifecycleOps", "RunDeletionRow", "not_deleted"]


class RunDeletionRow(Base):
    """A soft-deleted run (restorable until ``trackflow gc``)."""

    __tablename__ = "run_deletions"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    deleted_at: Mapped[int] = mapped_column(BigInteger)


def not_deleted() -> Any:
    """The SQL condition "this run (``runs.id``) is not deleted", for any run search."""
    return ~exists().where(RunDeletionRow.run_id == RunRow.id)


class LifecycleOps(SessionOps):
    """The life-cycle operations of :class:`~trackflow.tracking.store.base.TrackingTransaction`."""

    def search_listed_run_ids(
        self,
        *,
        experiment_ids: Sequence[str] | None,
        filter_expr: Expr | None,
        order_by: Sequence[OrderBy],
        top_level: bool,
        deleted: bool | None,
        limit: int,
        offset: int,
    ) -> list[str]:
        where = [RunRow.parent_run_id.is_(None)] if top_level else []
        if deleted is not None:
            where.append(~not_deleted() if deleted else not_deleted())
        return search_page(
            self.session, experiment_ids=experiment_ids, filter_expr=filter_expr, order_by=order_by, limit=limit,
            offset=offset, where=where,
        )

    def read_deleted(self, run_ids: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for chunk in chunks(list(run_ids)):
            statement = select(RunDeletionRow.run_id, RunDeletionRow.deleted_at).where(RunDeletionRow.run_id.in_(chunk))
            found.update({run_id: at for run_id, at in self.session.execute(statement)})
        return found

    def read_deleted_run_ids(self) -> list[str]:
        return list(self.session.scalars(select(RunDeletionRow.run_id).order_by(RunDeletionRow.deleted_at, RunDeletionRow.run_id)))

    def set_deleted(self, run_ids: Sequence[str], deleted: bool) -> list[str]:
        already = self.read_deleted(run_ids)
        if deleted:
            changed = [r for r in dict.fromkeys(run_ids) if r not in already]
            if changed:
                at = now_ms()
                self.session.execute(insert(RunDeletionRow), [{"run_id": r, "deleted_at": at} for r in changed])
        else:
            changed = [r for r in dict.fromkeys(run_ids) if r in already]
            for chunk in chunks(changed):
                self.session.execute(delete(RunDeletionRow).where(RunDeletionRow.run_id.in_(chunk)))
        self.session.flush()
        return changed

    def read_descendant_run_ids(self, run_ids: Sequence[str]) -> list[str]:
        found: list[str] = []
        frontier = list(run_ids)
        seen = set(frontier)
        while frontier:
            children: list[str] = []
            for chunk in chunks(frontier):
                children.extend(self.session.scalars(select(RunRow.id).where(RunRow.parent_run_id.in_(chunk))))
            frontier = [c for c in children if c not in seen]
            seen.update(frontier)
            found.extend(frontier)
        return found

    def read_registered_run_ids(self, run_ids: Sequence[str]) -> set[str]:
        if not inspect(self.session.connection()).has_table("model_versions"):
            return set()
        found: set[str] = set()
        query = text("SELECT DISTINCT run_id FROM model_versions WHERE run_id IN :ids").bindparams(
            bindparam("ids", expanding=True)
        )
        for chunk in chunks(list(run_ids)):
            found.update(self.session.scalars(query, {"ids": chunk}))
        return found

    def purge_runs(self, run_ids: Sequence[str]) -> None:
        for chunk in chunks(list(run_ids)):
            self.session.execute(delete(LineageEdgeRow).where(LineageEdgeRow.run_id.in_(chunk)))
            self.session.execute(delete(LineageNodeRow).where(LineageNodeRow.run_id.in_(chunk)))
            self.session.execute(delete(RunDeletionRow).where(RunDeletionRow.run_id.in_(chunk)))
            self.session.execute(delete(RunRow).where(RunRow.id.in_(chunk)))
        self.session.flush()

    def count_experiment_runs(self, experiment_id: str) -> tuple[int, int]:
        ids = list(self.session.scalars(select(RunRow.id).where(RunRow.experiment_id == experiment_id)))
        return len(ids), len(self.read_deleted(ids))

    def rename_experiment(self, experiment_id: str, name: str) -> None:
        self.session.execute(update(ExperimentRow).where(ExperimentRow.id == experiment_id).values(name=name))
        self.session.flush()

    def delete_experiment(self, experiment_id: str) -> None:
        self.session.execute(delete(ExperimentRow).where(ExperimentRow.id == experiment_id))
        self.session.flush()

