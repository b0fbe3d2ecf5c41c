"""``trackflow quickstart | run | deploy | rerun``: reference pipelines and pipeline specs.

Prefect is imported only inside the commands. Every command that talks to Prefect raises
the temporary server's startup timeout and turns analytics off unless the user set them
(see :mod:`trackflow.deployments.prefect_env`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from trackflow.cli.output import format_value
from trackflow.exceptions import TrackflowError

__all__ = ["register", "quickstart", "run_spec_command", "deploy", "rerun_command"]

QUICKSTART_MODEL = "quickstart-classifier"
QUICKSTART_POLICY = "metrics.roc_auc >= production.metrics.roc_auc"
_PARAM_HELP = "Override a parameter: -P key=value (YAML scalar; dotted keys reach into mappings). Repeatable."


def _echo(text: str = "") -> None:
    typer.echo(text)


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _client() -> Any:
    from trackflow.tracking.fluent import get_client

    return get_client()


def _report(outcome: Any, *, what: str) -> None:
    """Print a finished run (metrics, lineage, model) or raise for a failed one."""
    client = _client()
    if not outcome.ok:
        error = outcome.error
        run = f"run {outcome.run_id}" if outcome.run_id else "the flow run"
        shown = f"See `trackflow runs show {outcome.run_id}`." if outcome.run_id else None
        hint = getattr(error, "hint", None) or shown
        raise TrackflowError(f"{what} failed ({run}, Prefect state {outcome.state}): {error}", hint=hint)
    if outcome.run_id is None:
        _echo(f"{what} finished ({outcome.state}); the flow is not tracked (use @trackflow.flow).")
        return
    run = client.get_run(outcome.run_id)
    _echo(f"Run {run.id} ({run.name}) in experiment {run.experiment_name!r}: {run.status.value}")
    if run.metrics:
        _echo("Metrics:")
        width = max(len(k) for k in run.metrics)
        for key, value in sorted(run.metrics.items()):
            _echo(f"  {key:<{width}}  {format_value(value)}")
    _echo("Lineage:")
    _echo(_indent(client.lineage(run.id).to_tree()))
    result = outcome.result
    if getattr(result, "model_name", None) and getattr(result, "version", None) is not None:
        _print_model(client, result.model_name, result.version)


def _print_model(client: Any, name: str, version: int) -> None:
    found = client.registry.get_version(name, version)
    _echo(f"Registered model: {found.name} version {found.version}, stage {found.stage.value} ({found.uri})")
    for step in client.registry.history(name, version=version):
        origin = step.from_stage.value if step.from_stage else "new"
        _echo(f"  {origin} -> {step.to_stage.value}: {step.reason}")


def quickstart(
    data: str = typer.Option("sklearn:breast_cancer", "--data", help="sklearn:<name> or a CSV / parquet file."),
    target: Optional[str] = typer.Option(None, "--target", help="Column to predict (files only)."),  # noqa: UP007
    model_name: str = typer.Option(QUICKSTART_MODEL, "--model-name", help="Registered model name."),
) -> None:
    """Run the reference training pipeline end to end: load, split, train, evaluate, register, stage."""
    from trackflow.deployments.prefect_env import ensure_api, prefect_defaults

    with prefect_defaults(quiet_logs=True):
        client = _client()
        _echo("trackflow quickstart: a tracked Prefect flow that trains, evaluates, registers and stages a model.")
        _echo(f"Tracking store: {client.tracking_uri}")
        api = ensure_api(_echo)
        if api.startup_seconds is not None:
            _echo(f"Prefect server ready ({api.startup_seconds:.0f} s).")
        else:
            _echo(f"Prefect API: {api.url}")
        from trackflow.deployments.launch import check_flow_parameters, run_flow
        from trackflow.flows.pipelines import training_pipeline

        parameters = {"data": data, "model_name": model_name, "stage": "staging", "promote_if": QUICKSTART_POLICY}
        if target is not None:
            parameters["target"] = target
        check_flow_parameters(training_pipeline, parameters)
        _echo(f"Running training-pipeline on {data}: load -> split -> train -> evaluate -> register -> stage ...")
        outcome = run_flow(training_pipeline, parameters, experiment="quickstart")
        _echo()
        _report(outcome, what="The quickstart pipeline")
    _echo()
    _echo("Next:")
    _echo(f"  trackflow runs show {outcome.run_id}")
    _echo(f"  trackflow models show {model_name}")
    _echo(f"  trackflow serve models:/{model_name}@production --port 8000")
    _echo("See the flow run, its task runs, the run report and the model card in the Prefect dashboard:")
    if api.ephemeral:
        _echo(f"  prefect server start      # then open {api.dashboard}")
    else:
        _echo(f"  open {api.dashboard}")


def run_spec_command(
    spec_path: Path = typer.Argument(Path("trackflow.yaml"), metavar="SPEC", help="A trackflow.yaml (or its folder)."),
    param: Optional[list[str]] = typer.Option(None, "--param", "-P", help=_PARAM_HELP),  # noqa: UP007
) -> None:
    """Run a pipeline spec once, tracked."""
    from trackflow.deployments.prefect_env import ensure_api, prefect_defaults
    from trackflow.deployments.spec import load_spec, parse_overrides

    spec = load_spec(spec_path)
    overrides = parse_overrides(param or [])
    with prefect_defaults():
        from trackflow.deployments.launch import check_flow_parameters, load_flow, run_spec

        check_flow_parameters(load_flow(spec.flow, base_dir=spec.directory), spec.flow_parameters(overrides), spec=spec)
        ensure_api(_echo)
        _echo(f"Running {spec.name} ({spec.flow}) from {spec.source} ...")
        outcome = run_spec(spec, overrides)
        _report(outcome, what=f"Pipeline {spec.name}")


def deploy(
    spec_path: Path = typer.Argument(Path("trackflow.yaml"), metavar="SPEC", help="A trackflow.yaml (or its folder)."),
    serve: bool = typer.Option(False, "--serve", help="Keep running and execute the scheduled runs (no work pool)."),
    work_pool: Optional[str] = typer.Option(None, "--work-pool", help="Register on this work pool."),  # noqa: UP007
) -> None:
    """Create (or update) the spec's Prefect deployment(s) with its schedule and data-change trigger.

    With --serve, a runner in this process executes the runs (with no PREFECT_API_URL it uses or
    starts a Prefect server on 127.0.0.1:4200, whose scheduler the temporary server lacks).
    """
    from trackflow.deployments.prefect_env import ensure_api, prefect_defaults, scheduling_server
    from trackflow.deployments.spec import load_spec

    spec = load_spec(spec_path)
    if serve and work_pool:
        raise TrackflowError("Use either --serve or --work-pool, not both.")
    with prefect_defaults():
        from trackflow.deployments.scheduling import (
            apply_deployments,
            build_deployments,
            check_serve_artifact_root,
            serve_deployments,
        )

        build_deployments(spec)  # validates flow, parameters and files before anything is written
        if serve:
            check_serve_artifact_root()  # before a server is started
            with scheduling_server(_echo) as api:
                _echo(f"Serving {spec.name}: scheduled runs execute in subprocesses of this one; see them at "
                      f"{api.dashboard}. Stop with Ctrl-C.")
                serve_deployments(spec)
            return
        api = ensure_api(_echo)
        infos = apply_deployments(spec, work_pool=work_pool)
    for info in infos:
        when = f" - {info.schedule}" if info.schedule else " - no schedule"
        _echo(f"Deployment {info.full_name} ({info.id}){when}")
    if spec.experiment or spec.run_name:
        where = f"experiment {spec.experiment!r}" if spec.experiment else "the flow's experiment"
        named = f", named {spec.run_name!r}" if spec.run_name else ""
        _echo(f"Its runs record into {where}{named} (carried by its tags).")
    if api.ephemeral:
        _echo("Note: the deployments are stored in PREFECT_HOME; the temporary server does not schedule runs, "
              "`prefect server start` (or --serve) does.")
    _echo("Runs are scheduled in Prefect; something must execute them:")
    if work_pool or spec.work_pool:
        _echo(f"  prefect worker start --pool {work_pool or spec.work_pool}")
    else:
        _echo(f"  trackflow deploy {spec_path} --serve        # a runner in the foreground (no work pool)")
        _echo(f"  or: trackflow deploy {spec_path} --work-pool NAME, then prefect worker start --pool NAME")
    _echo(f"Run it now: prefect deployment run '{infos[0].full_name}'")


def rerun_command(
    run_id: str = typer.Argument(..., help="The run to rerun."),
    flow: Optional[str] = typer.Option(None, "--flow", help="The flow, when the run does not record it."),  # noqa: UP007
    param: Optional[list[str]] = typer.Option(None, "--param", "-P", help=_PARAM_HELP),  # noqa: UP007
    dry_run: bool = typer.Option(False, "--dry-run", help="Only report the differences and parameters."),
) -> None:
    """Rerun a past run with the same parameters, reporting code, data and package changes first."""
    from trackflow.deployments.prefect_env import ensure_api, prefect_defaults
    from trackflow.deployments.spec import parse_overrides

    overrides = parse_overrides(param or [])
    with prefect_defaults():
        from trackflow.deployments.rerun import plan_rerun, rerun

        plan = plan_rerun(run_id, flow=flow, overrides=overrides)
        _echo(f"Rerunning {plan.run.id} ({plan.run.name}) with {plan.entrypoint}")
        if plan.differences:
            _echo(f"Differences since the original run ({len(plan.differences)}):")
            for difference in plan.differences:
                _echo(f"  {difference.describe()}")
        else:
            _echo("No differences in code version, data or package versions.")
        exact = "" if plan.parameters_exact else " (recovered from the run's params; types may differ)"
        _echo(f"Parameters{exact}:")
        for key, value in sorted(plan.parameters.items()):
            _echo(f"  {key} = {value!r}")
        if dry_run:
            return
        ensure_api(_echo)
        outcome = rerun(plan)
        _report(outcome, what=f"The rerun of {plan.run.id}")


def register(app: typer.Typer) -> None:
    """Add the pipeline commands to the ``trackflow`` app."""
    app.command("quickstart")(quickstart)
    app.command("run")(run_spec_command)
    app.command("deploy")(deploy)
    app.command("rerun")(rerun_command)
