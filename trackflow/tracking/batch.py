"""A batch of queued writes: what one flush of the write buffer writes, and what the spool
records as ``op: batch`` (see :mod:`trackflow.tracking.spool`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trackflow.tracking.store.base import MetricRecord

__all__ = ["Batch", "Item", "batch_from_record", "batch_of", "batch_record", "describe_item", "items_of", "run_of"]


@dataclass
class Batch:
    """What one flush writes, in this order: runs, params, tags, metrics, run updates."""

    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """New runs by id, in creation order."""
    params: dict[str, dict[str, str]] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    metrics: list[MetricRecord] = field(default_factory=list)
    updates: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.runs or self.params or self.tags or self.metrics or self.updates)

    @property
    def size(self) -> int:
        """How many values it holds."""
        return (
            len(self.metrics)
            + len(self.runs)
            + len(self.updates)
            + sum(map(len, self.params.values()))
            + sum(map(len, self.tags.values()))
        )

    def put_back(self, older: Batch) -> None:
        """Put a batch that could not be written in front of this one (newer values win)."""
        self.runs = {**older.runs, **self.runs}
        self.metrics[:0] = older.metrics
        for mine, theirs in ((self.params, older.params), (self.tags, older.tags), (self.updates, older.updates)):
            for run_id, values in theirs.items():
                mine[run_id] = {**values, **mine.get(run_id, {})}


def batch_record(batch: Batch, uri: str) -> dict[str, Any]:
    """``batch`` as a spool record for the database at ``uri``."""
    return {
        "uri": uri,
        "op": "batch",
        "runs": list(batch.runs.values()),
        "params": batch.params,
        "tags": batch.tags,
        "metrics": [list(m) for m in batch.metrics],
        "updates": batch.updates,
    }


def batch_from_record(record: Mapping[str, Any]) -> Batch:
    """The batch a spool record of ``op: batch`` holds."""
    return Batch(
        runs={row["id"]: dict(row) for row in record.get("runs", [])},
        params={k: dict(v) for k, v in record.get("params", {}).items()},
        tags={k: dict(v) for k, v in record.get("tags", {}).items()},
        metrics=[(str(r), str(k), float(v), int(s), int(t)) for r, k, v, s, t in record.get("metrics", [])],
        updates={k: dict(v) for k, v in record.get("updates", {}).items()},
    )


Item = tuple[Any, ...]
"""One record of a batch being split: ``("param"|"tag", run_id, key, value)``,
``("metric", record)`` or ``("update", run_id, values)``."""


def batch_of(items: list[Item]) -> Batch:
    """The batch holding ``items`` (runs excluded), in their order."""
    batch = Batch()
    for item in items:
        kind = item[0]
        if kind == "metric":
            batch.metrics.append(item[1])
        elif kind == "update":
            batch.updates.setdefault(item[1], {}).update(item[2])
        else:
            (batch.params if kind == "param" else batch.tags).setdefault(item[1], {})[item[2]] = item[3]
    return batch


def items_of(batch: Batch) -> list[Item]:
    """Every record of ``batch`` but its runs, in writing order."""
    items: list[Item] = []
    for run_id, values in batch.params.items():
        items.extend(("param", run_id, k, v) for k, v in values.items())
    for run_id, values in batch.tags.items():
        items.extend(("tag", run_id, k, v) for k, v in values.items())
    items.extend(("metric", record) for record in batch.metrics)
    items.extend(("update", run_id, values) for run_id, values in batch.updates.items())
    return items


def run_of(item: Item) -> str:
    return str(item[1][0] if item[0] == "metric" else item[1])


def describe_item(item: Item) -> str:
    if item[0] == "metric":
        run_id, key, value, step, timestamp = item[1]
        return f"metric {key!r} of run {run_id} (value {value!r}, step {step!r}, timestamp {timestamp!r})"
    if item[0] == "update":
        return f"the update {sorted(item[2])} of run {item[1]}"
    return f"{item[0]} {item[2]!r} of run {item[1]}"
