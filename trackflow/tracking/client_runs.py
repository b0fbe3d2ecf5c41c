"""Finding runs by any reference, listing top-level runs, diffing two runs: Client methods.

The functions live in :mod:`.run_refs` and :mod:`.run_diff` and take the Client;
:class:`RunQueriesMixin` offers them as its methods (``client.find_run(ref)``,
``client.diff_runs(a, b)`` ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trackflow.tracking.entities import Run
from trackflow.tracking.run_diff import RunDiff
from trackflow.tracking.run_refs import find_dataset, list_runs, resolve_run_ref, search_top_level_runs

__all__ = ["RunQueriesMixin", "find_dataset", "list_runs", "search_top_level_runs"]


class RunQueriesMixin:
    """Client methods: :meth:`find_run`, :meth:`diff_runs`, :meth:`search_top_level_runs`."""

    def find_run(self, ref: str) -> Run:
        """The run ``ref`` names: run id, Prefect flow-run or task-run id, unique id prefix
        (>= 6 hex characters) or run name; see :func:`trackflow.tracking.run_refs.resolve_run_ref`."""
        return resolve_run_ref(self._client(), ref)

    def diff_runs(self, a: str | Run, b: str | Run) -> RunDiff:
        """What differs from run ``a`` to run ``b`` (runs, or references as :meth:`find_run` takes):
        params, latest metrics, code (commit, uncommitted changes), input datasets (fingerprints)
        and packages; see :mod:`trackflow.tracking.run_diff`."""
        from trackflow.tracking.run_diff import diff_runs

        client = self._client()
        first = a if isinstance(a, Run) else self.find_run(a)
        second = b if isinstance(b, Run) else self.find_run(b)
        return diff_runs(client, first, second)

    def search_top_level_runs(
        self,
        experiments: Sequence[str] | None = None,
        filter: str | None = None,  # noqa: A002 - as search_runs
        *,
        order_by: Sequence[str] | None = None,
        max_results: int = 100,
    ) -> list[Run]:
        """Like ``search_runs``, keeping runs without a parent (see :func:`search_top_level_runs`)."""
        return search_top_level_runs(self._client(), experiments, filter, order_by=order_by, max_results=max_results)

    def _client(self) -> Any:
        return self
