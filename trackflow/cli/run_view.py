"""How ``trackflow runs show`` prints one run: attributes, params, metrics with sparklines,
tags, notes, datasets, artifacts and task runs; or one metric's whole history."""

from __future__ import annotations

import dataclasses
from typing import Any

import typer

from trackflow.cli.output import OutputFormat, emit, format_value, sparkline

__all__ = ["print_metric_history", "print_run", "run_json", "run_record", "summarize"]

_MAX_SPARKLINES = 50  # metrics whose history is read for a sparkline


def run_record(run: Any) -> dict[str, Any]:
    """A run as a flat dict for JSON/CSV output."""
    record = dataclasses.asdict(run)
    record["status"] = run.status.value
    record["duration_s"] = run.duration_seconds
    return record


def run_json(client: Any, run: Any) -> dict[str, Any]:
    """Everything ``runs show`` prints, as one JSON-able record."""
    record = run_record(run)
    record["notes"] = [{"created_at": n.created_at, "kind": n.kind.value, "text": n.text} for n in client.get_notes(run.id)]
    record["datasets"] = [
        {"name": d.name, "role": d.role, "fingerprint": d.dataset.fingerprint, "rows": d.dataset.num_rows,
         "columns": d.dataset.num_columns, "schema": d.dataset.schema, "source": d.dataset.source}
        for d in client.get_datasets(run.id)
    ]  # fmt: skip
    record["artifacts"] = [dataclasses.asdict(a) for a in client.list_artifacts(run.id)]
    record["child_runs"] = [c.id for c in client.get_child_runs(run.id)]
    record["deleted_at"] = _deleted_at(client, run)
    return record


def _deleted_at(client: Any, run: Any) -> Any:
    from trackflow.tracking.client_lifecycle import deleted_at
    from trackflow.tracking.entities import ms_to_datetime

    when = deleted_at(client, [run.id]).get(run.id)
    return None if when is None else ms_to_datetime(when)


def print_metric_history(client: Any, run: Any, key: str, fmt: OutputFormat) -> None:
    """Every logged value of one metric (step, value, time); NotFoundError naming the run's metrics."""
    from trackflow.exceptions import NotFoundError
    from trackflow.tracking.run_refs import did_you_mean

    history = client.get_metric_history(run.id, key)
    if not history:
        known = list(run.metrics)
        raise NotFoundError(
            f"Run {run.id} has no metric {key!r}{did_you_mean(key, known)}",
            hint=f"Its metrics: {', '.join(known)}." if known else "The run logged no metric.",
        )
    rows = [{"step": m.step, "value": m.value, "timestamp": m.timestamp} for m in history]
    emit(rows, ["step", "value", "timestamp"], fmt)


def print_run(client: Any, run: Any) -> None:
    """The human-readable ``runs show``."""
    typer.echo(f"Run {run.id}  ({run.name})")
    for label, value in [
        ("experiment", run.experiment_name), ("status", run.status.value), ("kind", run.kind),
        ("started", run.start_time), ("ended", run.end_time), ("duration_s", run.duration_seconds),
        ("parent", run.parent_run_id), ("error", run.error), ("attempts", run.attempts),
        ("deleted", _deleted_at(client, run)),
        ("prefect", f"{run.prefect_name} flow_run={run.flow_run_id} task_run={run.task_run_id}" if run.flow_run_id else None),
        ("source", f"{run.source_commit or '-'}{' (dirty)' if run.source_dirty else ''} {run.entrypoint or ''}".strip()),
        ("user@host", f"{run.user}@{run.host}"), ("python", run.python_version),
    ]:  # fmt: skip
        if value not in (None, ""):
            typer.echo(f"  {label:<11} {format_value(value)}")
    _section("params", [f"{k:<24} {format_value(v)}" for k, v in run.params.items()])
    _section("metrics", _metric_lines(client, run))
    _section("tags", [f"{k:<24} {format_value(v)}" for k, v in run.tags.items()])
    _section("notes", [f"{format_value(n.created_at)}  {n.kind.value:<10} {n.text}" for n in client.get_notes(run.id)])
    _section("datasets", [
        f"{d.role:<6} {d.name:<18} {d.dataset.num_rows} x {d.dataset.num_columns}  {d.dataset.fingerprint[:19]}"
        for d in client.get_datasets(run.id)
    ])  # fmt: skip
    _section("artifacts", [f"{a.path:<32} {a.size:>10} B  {a.media_type}" for a in client.list_artifacts(run.id)])
    children = client.get_child_runs(run.id)
    _section("task runs" if all(c.kind == "task" for c in children) else "child runs", [
        f"{c.id}  {c.name:<24} {c.status.value:<8} {summarize(c.metrics)}" for c in children
    ])  # fmt: skip
    if run.metrics:
        typer.echo(f"(full history of a metric: trackflow runs show {run.id[:12]} --metric KEY)")


def _section(title: str, lines: list[str]) -> None:
    if lines:
        typer.echo(f"{title}:")
        for line in lines:
            typer.echo(f"  {line}")


def _metric_lines(client: Any, run: Any) -> list[str]:
    lines = []
    for index, (key, value) in enumerate(run.metrics.items()):
        chart = ""
        if index < _MAX_SPARKLINES:
            history = client.get_metric_history(run.id, key)
            if len(history) > 1:
                chart = f"  {sparkline([m.value for m in history])}  ({len(history)} values)"
        lines.append(f"{key:<24} {format_value(value)}{chart}")
    return lines


def summarize(values: dict[str, Any], limit: int = 4) -> str:
    """``k=v, k=v, +3``: the first ``limit`` items of a mapping."""
    items = [f"{k}={format_value(v)}" for k, v in list(values.items())[:limit]]
    if len(values) > limit:
        items.append(f"+{len(values) - limit}")
    return ", ".join(items)
