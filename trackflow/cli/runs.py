"""``trackflow runs``: list, show and read the notes of runs."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import typer

from trackflow.cli.output import OutputFormat, emit, format_value

app = typer.Typer(help="Tracked runs.", no_args_is_help=True)


def _summary(values: dict[str, Any], limit: int = 4) -> str:
    items = [f"{k}={format_value(v)}" for k, v in list(values.items())[:limit]]
    if len(values) > limit:
        items.append(f"+{len(values) - limit}")
    return ", ".join(items)


def run_record(run: Any) -> dict[str, Any]:
    """A run as a flat dict for JSON/CSV output."""
    record = dataclasses.asdict(run)
    record["status"] = run.status.value
    record["duration_s"] = run.duration_seconds
    return record


@app.command("list")
def list_runs(
    experiment: Optional[list[str]] = typer.Option(None, "--experiment", "-e", help="Experiment name (repeatable)."),  # noqa: UP007
    filter_: Optional[str] = typer.Option(None, "--filter", help="e.g. \"metrics.loss < 0.2 and params.model = 'rf'\"."),  # noqa: UP007
    order_by: Optional[list[str]] = typer.Option(None, "--order-by", "-o", help="e.g. 'metrics.loss ASC' (repeatable)."),  # noqa: UP007
    max_results: int = typer.Option(100, "--max-results", "-n", help="How many runs at most."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table, json or csv."),
) -> None:
    """List runs, newest first unless --order-by says otherwise."""
    from trackflow.tracking.client import Client

    runs = Client().search_runs(experiment or None, filter_, order_by=order_by or None, max_results=max_results)
    if fmt is OutputFormat.table:
        rows = [
            {
                "run_id": r.id,
                "experiment": r.experiment_name,
                "name": r.name,
                "status": r.status.value,
                "started": r.start_time,
                "duration_s": r.duration_seconds,
                "metrics": _summary(r.metrics),
                "params": _summary(r.params),
            }
            for r in runs
        ]
        emit(rows, ["run_id", "experiment", "name", "status", "started", "duration_s", "metrics", "params"], fmt)
        return
    records = [run_record(r) for r in runs]
    if fmt is OutputFormat.csv:
        flat = []
        for r in runs:
            row = {"run_id": r.id, "experiment": r.experiment_name, "name": r.name, "status": r.status.value,
                   "start_time": r.start_time, "end_time": r.end_time, "parent_run_id": r.parent_run_id}
            row.update({f"metrics.{k}": v for k, v in r.metrics.items()})
            row.update({f"params.{k}": v for k, v in r.params.items()})
            row.update({f"tags.{k}": v for k, v in r.tags.items()})
            flat.append(row)
        base = ["run_id", "experiment", "name", "status", "start_time", "end_time", "parent_run_id"]
        extra = sorted({k for row in flat for k in row} - set(base))
        emit(flat, base + extra, fmt)
        return
    emit(records, list(records[0]) if records else [], fmt)


@app.command("show")
def show(
    run_id: str = typer.Argument(..., help="The run id."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table or json."),
) -> None:
    """Show one run: attributes, params, metrics, tags, datasets, artifacts, child runs."""
    from trackflow.tracking.client import Client

    client = Client()
    run = client.get_run(run_id)
    datasets = client.get_datasets(run.id)
    artifacts = client.list_artifacts(run.id)
    children = client.get_child_runs(run.id)
    if fmt is OutputFormat.json:
        record = run_record(run)
        record["datasets"] = [
            {"name": d.name, "role": d.role, "fingerprint": d.dataset.fingerprint, "rows": d.dataset.num_rows,
             "columns": d.dataset.num_columns, "schema": d.dataset.schema}
            for d in datasets
        ]
        record["artifacts"] = [dataclasses.asdict(a) for a in artifacts]
        record["child_runs"] = [c.id for c in children]
        emit([record], list(record), fmt)
        return
    typer.echo(f"Run {run.id}  ({run.name})")
    for label, value in [
        ("experiment", run.experiment_name), ("status", run.status.value), ("kind", run.kind),
        ("started", run.start_time), ("ended", run.end_time), ("duration_s", run.duration_seconds),
        ("parent", run.parent_run_id), ("error", run.error), ("attempts", run.attempts),
        ("prefect", f"{run.prefect_name} flow_run={run.flow_run_id} task_run={run.task_run_id}" if run.flow_run_id else None),
        ("source", f"{run.source_commit or '-'}{' (dirty)' if run.source_dirty else ''} {run.entrypoint or ''}".strip()),
        ("user@host", f"{run.user}@{run.host}"), ("python", run.python_version),
    ]:
        if value not in (None, ""):
            typer.echo(f"  {label:<11} {format_value(value)}")
    for title, values in (("params", run.params), ("metrics", run.metrics), ("tags", run.tags)):
        if values:
            typer.echo(f"{title}:")
            for key, value in values.items():
                typer.echo(f"  {key:<24} {format_value(value)}")
    if datasets:
        typer.echo("datasets:")
        for d in datasets:
            typer.echo(f"  {d.role:<6} {d.name:<18} {d.dataset.num_rows} x {d.dataset.num_columns}  {d.dataset.fingerprint[:19]}")
    if artifacts:
        typer.echo("artifacts:")
        for a in artifacts:
            typer.echo(f"  {a.path:<32} {a.size:>10} B  {a.media_type}")
    if children:
        typer.echo("child runs:")
        for c in children:
            typer.echo(f"  {c.id}  {c.name:<24} {c.status.value:<8} {_summary(c.metrics)}")


@app.command("notes")
def notes(
    run_id: str = typer.Argument(..., help="The run id."),
    kind: Optional[str] = typer.Option(None, "--kind", "-k", help="note, decision, assumption or finding."),  # noqa: UP007
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table, json or csv."),
) -> None:
    """Show a run's notes, decisions, assumptions and findings."""
    from trackflow.tracking.client import Client

    client = Client()
    run = client.get_run(run_id)
    rows = [{"created_at": n.created_at, "kind": n.kind.value, "text": n.text} for n in client.get_notes(run.id, kind=kind)]
    emit(rows, ["created_at", "kind", "text"], fmt)
