"""``trackflow models``: registered models, versions, stages, aliases and their history."""

from __future__ import annotations

from typing import Any, Optional

import typer

from trackflow.cli.output import OutputFormat, emit, format_value
from trackflow.cli.reading import open_reader, registry_reader

__all__ = ["app"]

app = typer.Typer(help="Registered models: versions, stages, aliases, history.", no_args_is_help=True)

_FORMAT_HELP = "table, json or csv."
_VERSION_COLUMNS = ["version", "stage", "status", "aliases", "run_id", "created_at", "description"]


def _registry() -> Any:
    from trackflow.tracking.client import Client

    return Client().registry


def _version_row(version: Any) -> dict[str, Any]:
    return {
        "name": version.name,
        "version": version.version,
        "stage": version.stage.value,
        "status": version.status.value,
        "aliases": ", ".join(version.aliases),
        "run_id": version.run_id,
        "source": version.source,
        "payload_sha256": version.payload_sha256,
        "created_at": version.created_at,
        "description": version.description,
        "tags": version.tags,
    }


def _model_listing() -> list[tuple[Any, dict[str, list[int]]]]:
    """Each registered model with its version numbers by stage: through the fast read path
    when it can answer, else through the registry."""
    reader = open_reader()
    if reader is not None:
        from trackflow.registry.store.listing import read_model_listing

        with reader:
            return [(found.model, found.stages) for found in read_model_listing(reader)]
    registry = _registry()
    listing: list[tuple[Any, dict[str, list[int]]]] = []
    for model in registry.list_models():
        stages: dict[str, list[int]] = {}
        for version in registry.list_versions(model.name):
            stages.setdefault(version.stage.value, []).append(version.version)
        listing.append((model, stages))
    return listing


@app.command("list")
def list_models(fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help=_FORMAT_HELP)) -> None:
    """List registered models with their latest, staging and production versions."""
    rows = []
    for model, stages in _model_listing():
        rows.append(
            {
                "name": model.name,
                "latest": model.latest_version,
                "production": ", ".join(str(v) for v in stages.get("production", [])),
                "staging": ", ".join(str(v) for v in stages.get("staging", [])),
                "aliases": ", ".join(f"{a}={v}" for a, v in model.aliases.items()),
                "updated_at": model.updated_at,
                "description": (model.description or "").splitlines()[0][:60] if model.description else "",
            }
        )
    emit(rows, ["name", "latest", "production", "staging", "aliases", "updated_at", "description"], fmt)


@app.command("show")
def show(
    name: str = typer.Argument(..., help="The model name."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table, json or csv (versions)."),
) -> None:
    """Show a model: description, tags, versions (stage, aliases, run) and where it is served."""
    with registry_reader() as registry:
        model = registry.get_model(name)
        versions = registry.list_versions(model.name)
        deployments = registry.deployments(model.name)
    served = [
        {"deployment": d.name, "version": d.version, "target": d.target, "status": d.status, "since": d.since,
         "until": d.until}
        for d in deployments
    ]
    if fmt is OutputFormat.csv:
        emit([_version_row(v) for v in reversed(versions)], ["name", *_VERSION_COLUMNS, "source", "payload_sha256"], fmt)
        return
    if fmt is OutputFormat.json:
        record = {
            "name": model.name, "description": model.description, "tags": model.tags, "aliases": model.aliases,
            "latest_version": model.latest_version, "created_at": model.created_at, "updated_at": model.updated_at,
            "versions": [_version_row(v) for v in versions], "deployments": served,
        }
        emit([record], list(record), fmt)
        return
    typer.echo(f"Model {model.name}")
    for label, value in (("created", model.created_at), ("updated", model.updated_at), ("latest", model.latest_version)):
        typer.echo(f"  {label:<11} {format_value(value)}")
    if model.description:
        typer.echo("description:")
        for line in model.description.splitlines():
            typer.echo(f"  {line}")
    if model.tags:
        typer.echo("tags:")
        for key, value in model.tags.items():
            typer.echo(f"  {key:<24} {value}")
    typer.echo("versions:")
    emit([_version_row(v) for v in reversed(versions)], _VERSION_COLUMNS, OutputFormat.table)
    typer.echo("served:")
    if served:
        emit(served, ["deployment", "version", "target", "status", "since", "until"], OutputFormat.table)
    else:
        typer.echo("  (not deployed)")


@app.command("versions")
def versions(
    name: str = typer.Argument(..., help="The model name."),
    stage: Optional[str] = typer.Option(None, "--stage", "-s", help="Only versions in this stage."),  # noqa: UP007
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help=_FORMAT_HELP),
) -> None:
    """List the versions of a model, newest first."""
    with registry_reader() as registry:
        rows = [_version_row(v) for v in reversed(registry.list_versions(name, stage=stage))]
    columns = _VERSION_COLUMNS if fmt is OutputFormat.table else ["name", *_VERSION_COLUMNS, "source", "payload_sha256"]
    emit(rows, columns, fmt)


@app.command("promote")
def promote(
    name: str = typer.Argument(..., help="The model name."),
    version: int = typer.Argument(..., help="The version number."),
    stage: str = typer.Argument(..., help="development, staging, production or archived."),
    reason: Optional[str] = typer.Option(None, "--reason", "-r", help="Why (recorded in the history)."),  # noqa: UP007
    archive_existing: bool = typer.Option(
        True, "--archive-existing/--no-archive-existing", help="Archive the current production version."
    ),
) -> None:
    """Move a version to another stage (recorded with user, time and reason)."""
    registry = _registry()
    before = registry.get_version(name, version)
    after = registry.transition(name, version, stage, reason=reason, archive_existing=archive_existing)
    typer.echo(f"{after.name} version {after.version}: {before.stage.value} -> {after.stage.value}")


@app.command("alias")
def alias(
    name: str = typer.Argument(..., help="The model name."),
    alias_name: str = typer.Argument(..., metavar="ALIAS", help="The alias, e.g. champion."),
    version: int = typer.Argument(..., help="The version the alias points to."),
) -> None:
    """Point an alias at a version (moving it if it pointed elsewhere)."""
    result = _registry().set_alias(name, alias_name, version)
    typer.echo(f"{result.name}@{alias_name} -> version {result.version}")


@app.command("delete-alias")
def delete_alias(
    name: str = typer.Argument(..., help="The model name."),
    alias_name: str = typer.Argument(..., metavar="ALIAS", help="The alias to remove."),
) -> None:
    """Remove an alias."""
    _registry().delete_alias(name, alias_name)
    typer.echo(f"Removed alias {alias_name!r} of {name}.")


@app.command("history")
def history(
    name: str = typer.Argument(..., help="The model name."),
    version: Optional[int] = typer.Option(None, "--version", "-v", help="Only this version."),  # noqa: UP007
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help=_FORMAT_HELP),
) -> None:
    """Show the stage transitions of a model, oldest first."""
    with registry_reader() as registry:
        transitions = registry.history(name, version=version)
    rows = [
        {
            "when": t.created_at, "version": t.version, "from": t.from_stage.value if t.from_stage else None,
            "to": t.to_stage.value, "user": t.user, "reason": t.reason, "flow_run_id": t.flow_run_id,
            "details": t.details,
        }
        for t in transitions
    ]
    columns = ["when", "version", "from", "to", "user", "reason"]
    emit(rows, columns if fmt is OutputFormat.table else [*columns, "flow_run_id", "details"], fmt)


@app.command("predict")
def predict(
    model_uri: str = typer.Argument(..., metavar="MODEL_URI", help="e.g. models:/churn-clf@champion or runs:/ID/model"),
    data: str = typer.Argument(..., metavar="INPUT", help="A .csv or .parquet file to score."),
    output: Optional[str] = typer.Option(  # noqa: UP007
        None, "--output", "-o", help="Write input + predictions here (.csv or .parquet); default: CSV to stdout."),
    prediction_column: str = typer.Option("prediction", "--prediction-column", help="Name of the predictions column."),
    experiment: Optional[str] = typer.Option(  # noqa: UP007
        None, "--experiment", "-e", help="Experiment of the scoring run (default: the default experiment)."),
) -> None:
    """Score a data file with a model and record it (datasets and lineage), as the score_batch task does."""
    import sys

    from trackflow.tasks.scoring import score_and_record
    from trackflow.tracking.client import Client

    client = Client()
    runs: list[str] = []

    def new_run(version: Any) -> str:
        label = f"{version.name}-v{version.version}" if version is not None else "run-model"
        run = client.create_run(experiment, run_name=f"predict-{label}") if experiment else client.create_run(
            run_name=f"predict-{label}")
        runs.append(run.id)
        return run.id

    try:
        scored = score_and_record(model_uri, data, output=output, prediction_column=prediction_column,
                                  new_run=new_run, client=client)
    except BaseException:
        if runs:
            client.end_run(runs[0], "FAILED", error="scoring failed")
        raise
    client.end_run(runs[0], "FINISHED")
    if output is None:
        scored.to_csv(sys.stdout, index=False)
    where = f"to {output}" if output is not None else "to stdout"
    typer.echo(f"Scored {len(scored)} rows with {model_uri} {where}; recorded as run {runs[0]}.", err=output is None)


from trackflow.cli.models_why import why_command  # noqa: E402

app.command("why")(why_command)
