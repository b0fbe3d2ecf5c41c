"""Metric histories of many runs at once (the ui's compare page overlays them).

Pure Python: the SQL lives in :mod:`trackflow.tracking.store.histories`. One statement per
chunk of runs returns plain ``(step, value, timestamp ms)`` points, not :class:`Metric`
entities, so a 20-run comparison of long histories stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from trackflow.tracking.validation import validate_run_id

if TYPE_CHECKING:  # typing only: the Client imports nothing from here
    from trackflow.tracking.client import Client

__all__ = ["MetricPoint", "Histories", "metric_histories"]

MetricPoint = tuple[int, float, int]
"""One logged value: ``(step, value, timestamp in ms since the epoch)``; NaN stays NaN."""

Histories = dict[str, dict[str, list[MetricPoint]]]
"""run id -> metric key -> points ordered by step, then time."""


def metric_histories(client: Client, run_ids: Sequence[str], keys: Sequence[str] | None = None) -> Histories:
    """Every logged value of ``keys`` (all keys when None) for ``run_ids``, in one read transaction."""
    if not run_ids or (keys is not None and not keys):
        return {}
    ids = [validate_run_id(r) for r in run_ids]
    client.flush()
    with client._store.transaction(write=False) as tx:
        return tx.read_metric_histories(ids, None if keys is None else list(keys))
