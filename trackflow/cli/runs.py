"""``trackflow runs``: list, show, diff, delete and restore runs, read their notes; reconcile orphaned runs.

Every command taking a run accepts any reference a user has: the run id, a unique prefix of
it, the Prefect flow-run or task-run id, or the run's name (see
:mod:`trackflow.tracking.run_refs`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Optional

import typer

from trackflow.cli.output import OutputFormat, emit
from trackflow.cli.run_view import run_record, summarize

__all__ = ["app", "run_record"]

app = typer.Typer(help="Tracked runs.", no_args_is_help=True)


_BASE_COLUMNS: dict[str, Callable[[Any], Any]] = {
    "run_id": lambda r: r.id, "experiment": lambda r: r.experiment_name, "name": lambda r: r.name,
    "status": lambda r: r.status.value, "kind": lambda r: r.kind, "started": lambda r: f"{r.start_time:%Y-%m-%d %H:%M:%S}",
    "ended": lambda r: r.end_time, "duration_s": lambda r: r.duration_seconds, "parent": lambda r: r.parent_run_id,
    "user": lambda r: r.user, "commit": lambda r: r.source_commit, "prefect_name": lambda r: r.prefect_name,
}  # fmt: skip
_DEFAULT_COLUMNS = ["run_id", "experiment", "name", "status", "started", "duration_s", "metrics", "params"]
_MAX_RESULTS = 50_000  # the most `--max-results` allows (trackflow.tracking.run_refs checks it)
_OPTIONAL = ["duration_s", "params", "metrics", "experiment"]  # left out of a narrow terminal, in this order


def _parse_columns(value: str | None) -> list[str]:
    """The table columns ``--columns`` asks for (``run_id`` and ``name`` first); a usage error for an unknown one."""
    if value is None:
        return _DEFAULT_COLUMNS
    asked = [c.strip() for c in value.split(",") if c.strip()]
    for column in asked:
        entity = column.split(".", 1)[0]
        if column not in _BASE_COLUMNS and not (entity in ("params", "metrics", "tags") and "." in column):
            raise typer.BadParameter(
                f"unknown column {column!r}: use {', '.join(_BASE_COLUMNS)} or params.<key>, metrics.<key>, tags.<key>.",
                param_hint="'--columns'",
            )
    return [c for c in ("run_id", "name") if c not in asked] + asked


def _cell(run: Any, column: str) -> Any:
    if column in _BASE_COLUMNS:
        return _BASE_COLUMNS[column](run)
    if column in ("metrics", "params"):
        return summarize(getattr(run, column))
    entity, key = column.split(".", 1)
    return getattr(run, entity).get(key)


def _listed_runs(
    experiments: list[str] | None, filter_: str | None, order_by: list[str] | None, max_results: int, *,
    top_level: bool, deleted: bool,
) -> list[Any]:
    """The runs to list: through the fast read path when there is no filter or order (and it
    can answer), else through the Client (which also reports bad input)."""
    from trackflow.cli.reading import open_reader

    if filter_ is None and not order_by and 0 < max_results <= _MAX_RESULTS:
        reader = open_reader()
        if reader is not None:
            with reader:
                found = reader.list_runs(experiments, top_level=top_level, deleted=deleted, limit=max_results)
            if found is not None:
                return found
    from trackflow.tracking.client import Client
    from trackflow.tracking.run_refs import list_runs

    return list_runs(Client(), experiments, filter_, order_by=order_by, max_results=max_results, top_level=top_level,
                     deleted=deleted)


@app.command("list")
def list_runs(
    experiment: Optional[list[str]] = typer.Option(None, "--experiment", "-e", help="Experiment name (repeatable)."),  # noqa: UP007
    filter_: Optional[str] = typer.Option(None, "--filter", help="e.g. \"metrics.loss < 0.2 and params.model = 'rf'\"."),  # noqa: UP007
    order_by: Optional[list[str]] = typer.Option(None, "--order-by", "-o", help="e.g. 'metrics.loss ASC' (repeatable)."),  # noqa: UP007
    max_results: int = typer.Option(100, "--max-results", "-n", help="How many runs at most."),
    all_runs: bool = typer.Option(False, "--all", "-a", help="Include task runs and nested runs (default: top-level runs only)."),
    deleted: bool = typer.Option(False, "--deleted", help="List deleted runs instead (restore them with `runs restore`)."),
    columns: Optional[str] = typer.Option(None, "--columns", "-c", help="Table/CSV columns, e.g. 'status,params.lr,metrics.auc'."),  # noqa: UP007
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table, json or csv."),
) -> None:
    """List top-level runs (flow runs, manual runs), newest first unless --order-by says otherwise.

    --all adds task runs and nested runs; deleted runs are left out unless --deleted.
    """
    chosen = _parse_columns(columns)
    runs = _listed_runs(experiment, filter_, order_by, max_results, top_level=not all_runs, deleted=deleted)
    if fmt is OutputFormat.table or (fmt is OutputFormat.csv and columns is not None):
        rows = [{c: _cell(r, c) for c in chosen} for r in runs]
        emit(rows, chosen, fmt, fit=True, wide=("run_id", "started"), optional=_OPTIONAL if columns is None else ())
        return
    records = [run_record(r) for r in runs]
    if fmt is OutputFormat.csv:
        flat = []
        for r in runs:
            row: dict[str, Any] = {"run_id": r.id, "experiment": r.experiment_name, "name": r.name, "status": r.status.value,
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
    ref: str = typer.Argument(..., metavar="RUN", help="Run id, unique id prefix, Prefect flow/task-run id or run name."),
    metric: Optional[str] = typer.Option(None, "--metric", "-m", help="Print the full history of this metric."),  # noqa: UP007
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table or json."),
) -> None:
    """Show one run: attributes, params, metrics (with their history), tags, notes, datasets, artifacts, task runs."""
    from trackflow.cli.run_view import print_metric_history, print_run, run_json
    from trackflow.tracking.client import Client
    from trackflow.tracking.run_refs import resolve_run_ref

    client = Client()
    run = resolve_run_ref(client, ref)
    if metric is not None:
        print_metric_history(client, run, metric, fmt)
    elif fmt is OutputFormat.json:
        emit([run_json(client, run)], ["run"], fmt)
    else:
        print_run(client, run)


@app.command("notes")
def notes(
    ref: str = typer.Argument(..., metavar="RUN", help="Run id, unique id prefix, Prefect flow/task-run id or run name."),
    kind: Optional[str] = typer.Option(None, "--kind", "-k", help="note, decision, assumption or finding."),  # noqa: UP007
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table, json or csv."),
) -> None:
    """Show a run's notes, decisions, assumptions and findings."""
    from trackflow.tracking.client import Client
    from trackflow.tracking.run_refs import resolve_run_ref

    client = Client()
    run = resolve_run_ref(client, ref)
    rows = [{"created_at": n.created_at, "kind": n.kind.value, "text": n.text} for n in client.get_notes(run.id, kind=kind)]
    emit(rows, ["created_at", "kind", "text"], fmt)


@app.command("diff")
def diff(
    a: str = typer.Argument(..., metavar="RUN_A", help="The first run (id, id prefix, Prefect id or name)."),
    b: str = typer.Argument(..., metavar="RUN_B", help="The second run."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table, json or csv."),
) -> None:
    """What differs from RUN_A to RUN_B: params, metrics, input datasets, source (commit, dirty) and packages."""
    from trackflow.tracking.client import Client
    from trackflow.tracking.run_diff import DIFF_KINDS, diff_runs
    from trackflow.tracking.run_refs import resolve_run_ref

    client = Client()
    result = diff_runs(client, resolve_run_ref(client, a), resolve_run_ref(client, b))
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    rows = [{"kind": d.kind, "what": d.what, "a": d.before, "b": d.now} for d in result.differences]
    if fmt is OutputFormat.csv:
        emit(rows, ["kind", "what", "a", "b"], fmt)
        return
    typer.echo(f"a: {result.a.id}  {result.a.name}  ({result.a.experiment_name})")
    typer.echo(f"b: {result.b.id}  {result.b.name}  ({result.b.experiment_name})")
    if not rows:
        typer.echo("No differences in params, metrics, data, code or packages.")
        return
    for kind in DIFF_KINDS:
        found = result.of_kind(kind)
        if found:
            typer.echo(f"{kind}:")
            for d in found:
                typer.echo(f"  {d.what}: {d.before if d.before is not None else '(none)'} -> {d.now if d.now is not None else '(none)'}")


def _runs_to_change(client: Any, refs: list[str] | None, experiment: str | None, deleted: bool) -> list[Any]:
    """The runs named by ``refs`` and/or all (live or deleted) runs of ``experiment``; a usage error for neither."""
    from trackflow.tracking.run_refs import list_runs, resolve_run_ref

    if not refs and experiment is None:
        raise typer.BadParameter("name at least one run, or --experiment.", param_hint="'RUN...'")
    runs = [resolve_run_ref(client, ref) for ref in refs or []]
    if experiment is not None:
        runs += list_runs(client, [experiment], max_results=50_000, top_level=False, deleted=deleted)
    return runs


@app.command("delete")
def delete(
    refs: Optional[list[str]] = typer.Argument(None, metavar="[RUN]...", help="Runs (id, prefix, Prefect id or name)."),  # noqa: UP007
    experiment: Optional[str] = typer.Option(None, "--experiment", "-e", help="Every run of this experiment."),  # noqa: UP007
) -> None:
    """Delete runs (and the runs nested in them): hidden from lists and searches, restorable until `trackflow gc`."""
    from trackflow.tracking.client import Client
    from trackflow.tracking.client_lifecycle import delete_runs

    client = Client()
    changed = delete_runs(client, _runs_to_change(client, refs, experiment, deleted=False))
    typer.echo(f"Deleted {len(changed)} run(s); `trackflow runs restore` brings them back, `trackflow gc` removes them for good.")


@app.command("restore")
def restore(
    refs: Optional[list[str]] = typer.Argument(None, metavar="[RUN]...", help="Deleted runs (id, prefix, Prefect id or name)."),  # noqa: UP007
    experiment: Optional[str] = typer.Option(None, "--experiment", "-e", help="Every deleted run of this experiment."),  # noqa: UP007
) -> None:
    """Restore deleted runs (and the runs nested in them)."""
    from trackflow.tracking.client import Client
    from trackflow.tracking.client_lifecycle import restore_runs

    client = Client()
    changed = restore_runs(client, _runs_to_change(client, refs, experiment, deleted=True))
    typer.echo(f"Restored {len(changed)} run(s).")


def _age_option(ctx: typer.Context, value: str) -> str:
    """Check --older-than before anything runs: a bad age is a usage error (exit 2)."""
    from trackflow.exceptions import InvalidInputError
    from trackflow.tracked.reconcile import parse_age

    try:
        parse_age(value)
    except InvalidInputError as exc:
        raise typer.BadParameter(str(exc), ctx=ctx, param_hint="'--older-than'") from None
    return value


@app.command("reconcile")
def reconcile(
    older_than: str = typer.Option("10m", "--older-than", callback=_age_option, help="Only runs started longer ago: 30s, 10m, 2h, 1d."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be ended; change nothing."),
    experiment: Optional[str] = typer.Option(None, "--experiment", "-e", help="Only runs of this experiment."),  # noqa: UP007
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table, json or csv."),
) -> None:
    """End orphaned RUNNING runs: their Prefect run is final (status mirrored) or their process is gone (CRASHED)."""
    from trackflow.tracked.reconcile import reconcile_runs
    from trackflow.tracking.client import Client

    result = reconcile_runs(Client(), older_than=older_than, dry_run=dry_run, experiment=experiment)
    rows = [
        {"run_id": r.run_id, "experiment": r.experiment, "name": r.name, "kind": r.kind, "started": r.started,
         "status": r.status.value, "reason": r.reason}
        for r in result
    ]  # fmt: skip
    if rows or fmt is not OutputFormat.table:
        emit(rows, ["run_id", "experiment", "name", "kind", "started", "status", "reason"], fmt)
    from_prefect = sum(r.basis == "prefect" for r in result)
    verb = "Would end" if dry_run else "Ended"
    summary = (
        f"{verb} {len(result)} of {result.checked} RUNNING run(s) started more than {older_than.strip().lower()} ago "
        f"({from_prefect} from Prefect's state, {len(result) - from_prefect} with their process gone); "
        + ("dry run: nothing changed." if dry_run else f"{result.checked - len(result)} left running.")
    )
    err = fmt is not OutputFormat.table  # keep JSON / CSV output parseable
    if result.prefect_problem:
        typer.echo(f"Prefect's API could not be asked ({result.prefect_problem}): runs were judged by their process only.", err=err)
    typer.echo(summary, err=err)
