"""Deleting and restoring runs, collecting deleted ones for good, and managing experiments.

* :func:`delete_runs` marks runs deleted, with the runs nested in them (a flow run's task
  runs): they are kept whole, left out of listings and searches, and can be restored by
  :func:`restore_runs`.
* :func:`collect_garbage` (``trackflow gc``) removes deleted runs for good: their rows and
  their artifact files. A run a registered model version was made from is never removed
  (nor the runs it is nested in): it stays deleted and is reported as kept.
* :func:`create_experiment`, :func:`rename_experiment`, :func:`delete_experiment`: an
  experiment is deleted only when every run in it is deleted; its runs are then collected
  for good with it.

:class:`LifecycleMixin` offers them as Client methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trackflow.exceptions import AlreadyExistsError, ConflictError
from trackflow.tracking.entities import Experiment, Run
from trackflow.tracking.validation import validate_name

if TYPE_CHECKING:
    from trackflow.tracking.client import Client

__all__ = [
    "GcResult",
    "LifecycleMixin",
    "collect_garbage",
    "create_experiment",
    "delete_experiment",
    "delete_runs",
    "deleted_at",
    "rename_experiment",
    "restore_runs",
]


@dataclass(frozen=True)
class GcResult:
    """What ``trackflow gc`` removed (or, in a dry run, would remove) and what it kept."""

    removed: list[str] = field(default_factory=list)
    """Ids of the runs removed for good."""
    kept: list[str] = field(default_factory=list)
    """Ids of deleted runs kept because a registered model version was made from them (or from a run nested in them)."""
    dry_run: bool = False


def _tx(client: Client, *, write: bool = True) -> Any:
    return client._store.transaction(write=write)  # noqa: SLF001 - a Client mixin's helper


def _with_nested(client: Client, runs: Sequence[Run]) -> list[str]:
    ids = [r.id for r in runs]
    client.flush()
    with _tx(client, write=False) as tx:
        return list(dict.fromkeys([*ids, *tx.read_descendant_run_ids(ids)]))


def delete_runs(client: Client, runs: Sequence[Run]) -> list[str]:
    """Mark ``runs`` and the runs nested in them deleted; the ids newly deleted."""
    ids = _with_nested(client, runs)
    with _tx(client) as tx:
        return list(tx.set_deleted(ids, True))


def restore_runs(client: Client, runs: Sequence[Run]) -> list[str]:
    """Restore deleted ``runs`` and the runs nested in them; the ids restored."""
    ids = _with_nested(client, runs)
    with _tx(client) as tx:
        return list(tx.set_deleted(ids, False))


def deleted_at(client: Client, run_ids: Sequence[str]) -> dict[str, int]:
    """run id -> when it was deleted (ms since the epoch), for the deleted runs among ``run_ids``."""
    client.flush()
    with _tx(client, write=False) as tx:
        return dict(tx.read_deleted(list(run_ids)))


def _collectable(client: Client, candidates: Sequence[str]) -> tuple[list[str], list[str]]:
    """(removable, kept) among deleted ``candidates``: kept are runs a registered version was
    made from, the runs nested in them and the runs they are nested in."""
    with _tx(client, write=False) as tx:
        registered = tx.read_registered_run_ids(list(candidates))
        keep = set(registered) | set(tx.read_descendant_run_ids(sorted(registered)))
        runs = {r.id: r for r in tx.read_runs(list(candidates))}
    for run_id in sorted(registered):
        parent = runs[run_id].parent_run_id if run_id in runs else None
        while parent is not None and parent not in keep:
            keep.add(parent)
            parent = runs[parent].parent_run_id if parent in runs else None
    return [r for r in candidates if r not in keep], [r for r in candidates if r in keep]


def collect_garbage(client: Client, *, dry_run: bool = False, run_ids: Sequence[str] | None = None) -> GcResult:
    """Remove deleted runs for good (all of them, or those among ``run_ids``): rows first,
    in one transaction, then their artifact files. Runs a registered version needs are kept."""
    client.flush()
    with _tx(client, write=False) as tx:
        deleted = tx.read_deleted_run_ids()
    if run_ids is not None:
        wanted = set(run_ids)
        deleted = [r for r in deleted if r in wanted]
    removable, kept = _collectable(client, deleted)
    if dry_run or not removable:
        return GcResult(removed=removable, kept=kept, dry_run=dry_run)
    with _tx(client) as tx:
        tx.purge_runs(removable)
    for run_id in removable:
        client.artifacts.delete(run_id)
    return GcResult(removed=removable, kept=kept)


def create_experiment(client: Client, name: str) -> Experiment:
    """A new, empty experiment; AlreadyExistsError when the name is taken."""
    validate_name(name)
    if any(e.name == name for e in client.list_experiments()):
        raise AlreadyExistsError(f"Experiment {name!r} exists already.", hint="trackflow experiments list")
    return client.get_or_create_experiment(name)


def rename_experiment(client: Client, name: str, new_name: str) -> Experiment:
    """Rename experiment ``name`` to ``new_name`` (its runs move with it)."""
    from trackflow.tracking.run_refs import resolve_experiment

    validate_name(new_name)
    experiment = resolve_experiment(client, name)
    if new_name == name:
        return experiment
    if any(e.name == new_name for e in client.list_experiments()):
        raise AlreadyExistsError(f"Experiment {new_name!r} exists already.", hint="Choose another name.")
    with _tx(client) as tx:
        tx.rename_experiment(experiment.id, new_name)
    client._experiment_ids.pop(name, None)  # noqa: SLF001 - the Client's name -> id cache
    return client.get_experiment_by_name(new_name)


def delete_experiment(client: Client, name: str) -> GcResult:
    """Delete experiment ``name`` for good with its runs, all of which must be deleted already
    (ConflictError otherwise, or when a registered version was made from one of them)."""
    from trackflow.tracking.run_refs import resolve_experiment

    experiment = resolve_experiment(client, name)
    client.flush()
    with _tx(client, write=False) as tx:
        total, deleted = tx.count_experiment_runs(experiment.id)
        run_ids = tx.search_listed_run_ids(
            experiment_ids=[experiment.id], filter_expr=None, order_by=(), top_level=False, deleted=True,
            limit=max(total, 1), offset=0,
        )
    if total > deleted:
        raise ConflictError(
            f"Experiment {name!r} has {total - deleted} run(s) that are not deleted.",
            hint=f"Delete them first: trackflow runs delete --experiment {name!r}",
        )
    removable, kept = _collectable(client, run_ids)
    if kept:
        raise ConflictError(
            f"Experiment {name!r} holds {len(kept)} run(s) registered model versions were made from; it is kept.",
            hint="Delete those model versions first (trackflow models ...).",
        )
    with _tx(client) as tx:
        tx.purge_runs(removable)
        tx.delete_experiment(experiment.id)
    client._experiment_ids.pop(name, None)  # noqa: SLF001 - the Client's name -> id cache
    for run_id in removable:
        client.artifacts.delete(run_id)
    return GcResult(removed=removable)


class LifecycleMixin:
    """Client methods: delete/restore runs, garbage collection, experiment create/rename/delete."""

    def delete_runs(self, runs: Sequence[str | Run]) -> list[str]:
        """Soft-delete runs (references as ``find_run`` takes) and the runs nested in them."""
        return delete_runs(self._client(), self._runs(runs))

    def restore_runs(self, runs: Sequence[str | Run]) -> list[str]:
        """Restore soft-deleted runs and the runs nested in them."""
        return restore_runs(self._client(), self._runs(runs))

    def collect_garbage(self, *, dry_run: bool = False) -> GcResult:
        """Remove deleted runs for good, except those registered model versions need."""
        return collect_garbage(self._client(), dry_run=dry_run)

    def create_experiment(self, name: str) -> Experiment:
        """A new, empty experiment (AlreadyExistsError when the name is taken)."""
        return create_experiment(self._client(), name)

    def rename_experiment(self, name: str, new_name: str) -> Experiment:
        """Rename an experiment."""
        return rename_experiment(self._client(), name, new_name)

    def delete_experiment(self, name: str) -> GcResult:
        """Delete an experiment whose runs are all deleted, with those runs, for good."""
        return delete_experiment(self._client(), name)

    def _runs(self, runs: Sequence[str | Run]) -> list[Run]:
        from trackflow.tracking.run_refs import resolve_run_ref

        return [r if isinstance(r, Run) else resolve_run_ref(self._client(), r) for r in runs]

    def _client(self) -> Any:
        return self
