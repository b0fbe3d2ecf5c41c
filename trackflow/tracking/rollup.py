"""Roll the final metrics of a run's child runs up into the run (a flow run's task runs).

An evaluate task that returns ``{"accuracy": 0.93}`` logs ``accuracy`` on its own task
run. :func:`rollup_metrics` makes the flow run carry it too, so the run report, the
``trackflow.run.finished`` event, search, the model card and promotion policies see it:

* the run's own latest metrics, unchanged;
* for every ended direct child run (RUNNING ones are skipped), each of its latest metrics
  under the bare ``<key>``, unless the run logged that key itself (its own value wins);
* and, where a key is ambiguous (logged by two children, or by the run itself with another
  value), under
  ``<task label>.<key>`` for each child as well, so every value stays reachable (the label
  is the Prefect task name, else the Prefect flow name of a subflow, else the run's name).

When several children have the same key, the child that ended last wins (then the one
that started last, then the later in :meth:`Client.get_child_runs` order, oldest first).
NaN is a value like any other: the last-ended child's NaN is kept (NaN round-trips in the
store; promotion policies treat it as missing). A subflow's run carries its own tasks'
metrics once it has ended (it is rolled up when it ends), so nesting composes.

:func:`roll_up_into` writes the rolled-up keys onto the run (at the end of a flow run);
:func:`model_metrics` is what judges a model a run produced. This module belongs to the
tracking layer: it uses only the Client.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from trackflow.exceptions import InvalidInputError, NotFoundError
from trackflow.tracking.entities import Run, RunStatus
from trackflow.tracking.validation import validate_key

__all__ = ["model_metrics", "roll_up_into", "rollup_metrics", "task_label", "top_level_run"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MAX_DEPTH = 64


def task_label(run: Run) -> str:
    """The label a child run's metrics are qualified with: Prefect task name, flow name, or run name.

    Path separators (not allowed in metric keys) become ``_``.
    """
    label = run.tags.get("prefect.task") or run.tags.get("prefect.flow") or run.name
    return label.replace("/", "_").replace("\\", "_")


def _qualified_key(label: str, key: str) -> str | None:
    try:
        return validate_key(f"{label}.{key}", "Metric key")
    except InvalidInputError:  # e.g. longer than a metric key may be: only the bare key is kept
        return None


def _ended_order(run: Run) -> tuple[datetime, datetime]:
    return (run.end_time or _EPOCH, run.start_time or _EPOCH)


def _children_metrics(children: Sequence[Run], own: Mapping[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """``(bare, qualified)`` metrics of the ended children, the last-ended child winning each key.

    A key gets qualified names (``<label>.<key>``, one per child label) only where it is
    ambiguous: logged by more than one child, or by the run itself with another value
    (a value rolled up earlier is the same value, so rolling up again changes nothing).
    """
    ended = sorted((c for c in children if RunStatus(c.status) is not RunStatus.RUNNING), key=_ended_order)
    loggers = Counter(key for child in ended for key in child.metrics)
    bare: dict[str, float] = {}
    qualified: dict[str, float] = {}
    for child in ended:  # stable: ties keep the given (oldest-first) order
        label = task_label(child)
        for key, value in child.metrics.items():
            bare[key] = value
            ambiguous = loggers[key] > 1 or (key in own and not _same(own[key], value))
            name = _qualified_key(label, key) if ambiguous else None
            if name is not None:
                qualified[name] = value
    return bare, qualified


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def rollup_metrics(client: Any, run_id: str, *, children: Sequence[Run] | None = None) -> dict[str, float]:
    """The run's own latest metrics plus its ended direct children's, as described in the module doc.

    ``children`` defaults to ``client.get_child_runs(run_id)``; pass them when already read.
    The run's own metrics always win over rolled-up ones with the same key.
    """
    run = client.get_run(run_id)
    kids = client.get_child_runs(run.id) if children is None else children
    bare, qualified = _children_metrics(kids, run.metrics)
    return {**qualified, **bare, **run.metrics}


def roll_up_into(client: Any, run_id: str, *, children: Sequence[Run] | None = None) -> dict[str, float]:
    """Log the rolled-up metrics the run does not have yet onto it (step 0); return what was written.

    One ``log_metrics`` call; keys the run already has are never touched, so calling it
    again writes nothing new.
    """
    run = client.get_run(run_id)
    kids = client.get_child_runs(run.id) if children is None else children
    bare, qualified = _children_metrics(kids, run.metrics)
    missing = {k: v for k, v in {**qualified, **bare}.items() if k not in run.metrics}
    if missing:
        client.log_metrics(run.id, missing, step=0)
    return missing


def _ancestors(client: Any, run: Run) -> list[Run]:
    """The runs above ``run``, nearest first (the walk stops at a missing parent or a cycle)."""
    chain: list[Run] = []
    seen = {run.id}
    parent_id = run.parent_run_id
    while parent_id and parent_id not in seen and len(chain) < _MAX_DEPTH:
        seen.add(parent_id)
        try:
            parent = client.get_run(parent_id)
        except NotFoundError:  # a deleted parent ends the walk
            break
        chain.append(parent)
        parent_id = parent.parent_run_id
    return chain


def top_level_run(client: Any, run_id: str) -> Run:
    """The run at the root of ``run_id``'s ``parent_run_id`` chain (the run itself when it has no parent)."""
    run = client.get_run(run_id)
    chain = _ancestors(client, run)
    return chain[-1] if chain else run


def model_metrics(client: Any, run_id: str) -> dict[str, float]:
    """The metrics that judge a model produced by run ``run_id``.

    The rollup of its top-level run (``parent_run_id`` followed to the root), overlaid
    with the rollup of each run on the way down (a subflow's evaluation beats the outer
    flow's), overlaid with the run's own metrics, which win. For a model made in a flow's
    body the run is the flow run itself: its rollup. For a model a task returned it is the
    task's own metrics (``training_*``), then its flow run's (the evaluate task's).
    """
    run = client.get_run(run_id)
    metrics: dict[str, float] = {}
    for ancestor in reversed(_ancestors(client, run)):  # root first, nearest ancestor last
        metrics.update(rollup_metrics(client, ancestor.id))
    metrics.update(rollup_metrics(client, run.id))
    return metrics
