"""Everything the run page shows, as JSON-able data (the page and ``/api/runs/{id}`` share it)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from trackflow.exceptions import InvalidInputError, NotFoundError
from trackflow.tracking.client import Client
from trackflow.tracking.entities import Metric, Run, RunDataset, ms_to_datetime
from trackflow.tracking.histories import MetricPoint
from trackflow.tracking.histories import metric_histories as metric_histories_of
from trackflow.ui.artifacts_view import artifacts_json
from trackflow.ui.formatting import duration_seconds, iso
from trackflow.ui.registry_links import versions_by_run
from trackflow.ui.web import prefect_ui_base

__all__ = ["run_data", "known_run", "history_json", "points_json", "run_summary", "MAX_CHARTED_METRICS"]

MAX_CHARTED_METRICS = 40


def run_summary(run: Run) -> dict[str, Any]:
    """The fields of a run shown in lists (children, parents)."""
    return {
        "id": run.id, "name": run.name, "status": run.status.value, "kind": run.kind,
        "start_time": iso(run.start_time), "end_time": iso(run.end_time),
        "duration_s": duration_seconds(run.start_time, run.end_time), "url": f"/runs/{run.id}",
    }


def history_json(history: list[Metric]) -> list[dict[str, Any]]:
    """A metric history as ``[{step, value, timestamp}]`` (NaN as null)."""
    return [{"step": m.step, "value": None if m.value != m.value else m.value, "timestamp": iso(m.timestamp)}
            for m in history]


def points_json(points: list[MetricPoint]) -> list[dict[str, Any]]:
    """``(step, value, timestamp ms)`` points as :func:`history_json` writes them."""
    return [{"step": step, "value": None if value != value else value, "timestamp": iso(ms_to_datetime(stamp))}
            for step, value, stamp in points]


def _prefect_links(run: Run) -> dict[str, str]:
    base = prefect_ui_base()
    links: dict[str, str] = {}
    if base and run.flow_run_id:
        links["flow_run"] = f"{base}/runs/flow-run/{run.flow_run_id}"
    if base and run.task_run_id:
        links["task_run"] = f"{base}/runs/task-run/{run.task_run_id}"
    return links


def known_run(client: Client, run_id: str) -> Run:
    """The run ``run_id``; NotFoundError also for an id that cannot be a run id (a 404, not a 400)."""
    try:
        return client.get_run(run_id)
    except InvalidInputError as exc:
        raise NotFoundError(f"Run {run_id!r} does not exist ({exc}).") from None


def _datasets(client: Client, run: Run, children: list[Run]) -> list[dict[str, Any]]:
    """The run's datasets, then its task runs' (``task`` names the task run; a flow run logs few itself)."""
    found: list[tuple[Run | None, RunDataset]] = [(None, d) for d in client.get_datasets(run.id)]
    for child in children:
        found += [(child, d) for d in client.get_datasets(child.id)]
    return [
        {"name": d.name, "role": d.role, "fingerprint": d.dataset.fingerprint, "kind": d.dataset.kind,
         "num_rows": d.dataset.num_rows, "num_columns": d.dataset.num_columns, "schema": d.dataset.schema,
         "profile": d.dataset.profile, "source": d.dataset.source, "size_bytes": d.dataset.size_bytes,
         "lineage_url": f"/lineage?ref=dataset:{d.dataset.fingerprint}",
         "task": {"id": child.id, "name": child.name, "url": f"/runs/{child.id}"} if child else None}
        for child, d in found
    ]


def run_data(client: Client, run_id: str, *, histories: bool = True) -> dict[str, Any]:
    """The run page's data: the run, params, metrics (with histories), tags, notes, datasets,
    artifacts, source and environment, task runs, parent, model versions and links."""
    run = known_run(client, run_id)
    children = client.get_child_runs(run.id)
    parent = client.get_runs([run.parent_run_id])[0] if run.parent_run_id else None
    metric_histories: dict[str, list[dict[str, Any]]] = {}
    if histories and run.metrics:  # every charted key in one read
        charted = list(run.metrics)[:MAX_CHARTED_METRICS]
        points = metric_histories_of(client, [run.id], charted).get(run.id, {})
        metric_histories = {key: points_json(points.get(key, [])) for key in charted}
    models = versions_by_run(client, [run.id, *(c.id for c in children)])
    return {
        **run_summary(run),
        "experiment": {"id": run.experiment_id, "name": run.experiment_name,
                       "url": f"/experiments/{quote(run.experiment_name)}"},
        "error": run.error, "attempts": run.attempts,
        "params": run.params, "metrics": run.metrics, "tags": run.tags,
        "metric_histories": metric_histories,
        "notes": [{"id": n.id, "kind": n.kind.value, "text": n.text, "created_at": iso(n.created_at)}
                  for n in client.get_notes(run.id)],
        "datasets": _datasets(client, run, children),
        "artifacts": artifacts_json(client, run.id),
        "source": {"commit": run.source_commit, "dirty": run.source_dirty, "entrypoint": run.entrypoint},
        "environment": {"user": run.user, "host": run.host, "python": run.python_version,
                        "packages": run.package_versions},
        "prefect": {"flow_run_id": run.flow_run_id, "task_run_id": run.task_run_id, "name": run.prefect_name,
                    "links": _prefect_links(run)},
        "parent": run_summary(parent) if parent else None,
        "children": [{**run_summary(c), "metrics": c.metrics} for c in children],
        "models": [m for ms in models.values() for m in ms],
        "lineage": {"svg_url": f"/runs/{run.id}/lineage.svg", "explorer_url": f"/lineage?ref=run:{run.id}"},
    }
