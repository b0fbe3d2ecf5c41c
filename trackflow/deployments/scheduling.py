"""Prefect deployments of a pipeline spec: scheduled retraining and data-change retraining.

``trackflow deploy trackflow.yaml`` creates (or updates) up to two Prefect deployments:

``<flow name>/<spec name>``
    The pipeline with the spec's parameters and schedule (cron / interval / rrule),
    tagged ``trackflow-spec:<spec name>``.
``check-data-changed/<spec name>-data-watch`` (only with ``retrain_on.data_changed``)
    A small flow on an interval (``retrain_on.check_every``, 300 s by default). It
    fingerprints the file (the same sha256 content fingerprint runs record for their
    input datasets) and compares it with the file's fingerprint in the latest run of the
    spec. When they differ it emits a ``trackflow.data.changed`` Prefect event and starts
    the pipeline deployment with ``run_deployment`` (idempotency key
    ``<spec>:<old>-><new>``, so one change starts one run however often it is checked).
    The check runs are not tracked as trackflow runs (they only read).

Deployments need something to execute their runs. ``trackflow deploy --serve`` registers
them and keeps a runner in the foreground (Prefect's ``serve``: no work pool needed);
``trackflow deploy --work-pool NAME`` registers them on a work pool whose worker
(``prefect worker start --pool NAME``) runs them. Both show in the Prefect UI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import flow

from trackflow.deployments.spec import PipelineSpec
from trackflow.exceptions import InvalidInputError

__all__ = [
    "SPEC_DEPLOYMENT_TAG",
    "DATA_CHANGED_EVENT",
    "DeploymentInfo",
    "DataCheck",
    "build_deployments",
    "deployment_option_tags",
    "apply_deployments",
    "serve_deployments",
    "check_serve_artifact_root",
    "latest_spec_run",
    "compare_data",
    "check_data_changed",
]

SPEC_DEPLOYMENT_TAG = "trackflow-spec:"
DATA_CHANGED_EVENT = "trackflow.data.changed"
WATCH_SUFFIX = "-data-watch"


@dataclass(frozen=True)
class DeploymentInfo:
    """A deployment as registered with the Prefect API."""

    id: str
    name: str
    flow_name: str
    schedule: str | None

    @property
    def full_name(self) -> str:
        """``<flow name>/<deployment name>``, what ``prefect deployment run`` takes."""
        return f"{self.flow_name}/{self.name}"


@dataclass(frozen=True)
class DataCheck:
    """The outcome of comparing a data file with what the spec's latest run trained on."""

    path: str
    current: str
    previous: str | None
    run_id: str | None

    @property
    def changed(self) -> bool:
        """True when the latest run used other content (or there is no run yet)."""
        return self.current != self.previous


def _spec_tag(spec_name: str) -> str:
    return f"{SPEC_DEPLOYMENT_TAG}{spec_name}"


def _entrypoint_type(flow_obj: Any) -> Any:
    from prefect.deployments.runner import EntrypointType

    module = getattr(getattr(flow_obj.fn, "__wrapped__", flow_obj.fn), "__module__", "")
    script = module == "__main__" or module.startswith("__prefect_loader")
    return EntrypointType.FILE_PATH if script else EntrypointType.MODULE_PATH


def deployment_option_tags(spec: PipelineSpec, flow_obj: Any) -> list[str]:
    """The Prefect tags that carry the spec's ``experiment`` and ``run_name`` to every run of its
    deployment (none for a plain Prefect flow, which records nothing).

    Every run of a deployment, on a worker or under ``serve``, executes the flow loaded afresh
    from its entrypoint in a new process, so options applied to the flow object here would be
    lost. Tags, not job variables or parameters: the Prefect server copies a deployment's tags
    into every flow run created from it (schedule, ``prefect deployment run``,
    ``run_deployment``, the UI) whatever executes it (job variables need a work pool whose job
    template has an ``env``, and ``serve`` has none; parameters must be the flow's own), and a
    run's own tags add to them but never drop them. The tracked flow reads them from its flow
    run when it starts (:meth:`~trackflow.tracked.options.TrackingOptions.from_run_tags`).
    """
    from trackflow.tracked.options import run_option_tags

    if not hasattr(flow_obj, "tracking_options"):
        return []
    return run_option_tags(experiment=spec.experiment, run_name=spec.run_name)


def build_deployments(spec: PipelineSpec, *, flow_obj: Any = None) -> list[Any]:
    """The spec's RunnerDeployments (the pipeline, plus the data watch when configured)."""
    from trackflow.deployments.launch import check_flow_parameters, load_flow

    flow_obj = flow_obj or load_flow(spec.flow, base_dir=spec.directory)
    parameters = check_flow_parameters(flow_obj, spec.flow_parameters(), spec=spec)
    if spec.retrain_on is not None and not spec.retrain_on.data_changed.is_file():
        raise spec.error("retrain_on.data_changed", f"`retrain_on.data_changed`: no file at "
                         f"{str(spec.retrain_on.data_changed)!r}.")
    tags = [_spec_tag(spec.name), *spec.tags]
    carried = deployment_option_tags(spec, flow_obj)
    schedules = [spec.schedule.to_prefect()] if spec.schedule is not None else None
    main = flow_obj.to_deployment(
        name=spec.name, schedules=schedules, paused=not spec.schedule.active if spec.schedule else None,
        parameters=parameters, description=spec.description or f"trackflow pipeline {spec.name}",
        tags=[*tags, *carried], entrypoint_type=_entrypoint_type(flow_obj),
    )  # fmt: skip
    deployments = [main]
    if spec.retrain_on is not None:
        watch = check_data_changed.to_deployment(
            name=f"{spec.name}{WATCH_SUFFIX}", interval=spec.retrain_on.check_every, tags=tags,
            parameters={"path": str(spec.retrain_on.data_changed), "deployment": f"{flow_obj.name}/{spec.name}",
                        "spec_name": spec.name},
            description=f"Retrain {spec.name} when {spec.retrain_on.data_changed.name} changes.",
            entrypoint_type=_entrypoint_type(check_data_changed),
        )  # fmt: skip
        deployments.append(watch)
    return deployments


def apply_deployments(spec: PipelineSpec, *, work_pool: str | None = None) -> list[DeploymentInfo]:
    """Create or update the spec's deployments through the Prefect API."""
    pool = work_pool or spec.work_pool
    infos = []
    for deployment in build_deployments(spec):
        deployment_id = deployment.apply(work_pool_name=pool) if pool else deployment.apply()
        schedule = None
        if deployment.name == spec.name and spec.schedule is not None:
            schedule = spec.schedule.describe()
        elif deployment.name.endswith(WATCH_SUFFIX) and spec.retrain_on is not None:
            schedule = f"every {spec.retrain_on.check_every:g} s"
        infos.append(DeploymentInfo(id=str(deployment_id), name=deployment.name, flow_name=deployment.flow_name,
                                    schedule=schedule))
    return infos


def serve_deployments(spec: PipelineSpec) -> None:
    """Register the deployments and execute their runs until interrupted (each run in a
    subprocess of this one, so a ``memory://`` artifact root is refused first)."""
    from prefect import serve

    deployments = build_deployments(spec)
    check_serve_artifact_root()
    serve(*deployments)


def check_serve_artifact_root() -> None:
    """Refuse a process-local artifact root (``memory://``) for runs that execute in subprocesses."""
    from trackflow.settings import get_settings
    from trackflow.tracking.artifact_roots import require_shared_root

    require_shared_root(get_settings().artifact_root,
                        where="by `trackflow deploy --serve`, whose runs execute in subprocesses")


# ---------------------------------------------------------------------- data changes


def latest_spec_run(client: Any, spec_name: str) -> Any:
    """The most recent trackflow run of a spec (``trackflow run`` or its deployment), or None."""
    if "'" in spec_name or "%" in spec_name:
        raise InvalidInputError(f"Spec name {spec_name!r} cannot contain quotes or '%'.")
    query = (f"tags.`trackflow.spec_name` = '{spec_name}' or "
             f"tags.`prefect.tags` LIKE '%{_spec_tag(spec_name)}%'")  # fmt: skip
    found = client.search_runs(filter=query, order_by=["attributes.start_time DESC"], max_results=1)
    return found[0] if found else None


def _file_inputs(client: Any, run: Any) -> list[Any]:
    """File datasets a run (or its task runs) used."""
    runs = [run, *client.get_child_runs(run.id)]
    return [d.dataset for r in runs for d in client.get_datasets(r.id, role="input") if d.dataset.kind == "file"]


def compare_data(client: Any, spec_name: str, path: str | Path) -> DataCheck:
    """Fingerprint ``path`` and find the fingerprint of the same file in the spec's latest run."""
    from trackflow.tracking.fingerprint import fingerprint_dataset

    file_path = Path(path).expanduser().resolve()
    current = fingerprint_dataset(file_path, profile=False).fingerprint
    run = latest_spec_run(client, spec_name)
    if run is None:
        return DataCheck(path=str(file_path), current=current, previous=None, run_id=None)
    uri = file_path.as_uri()
    used = [d for d in _file_inputs(client, run) if d.source == uri]
    previous = current if any(d.fingerprint == current for d in used) else (used[0].fingerprint if used else None)
    return DataCheck(path=str(file_path), current=current, previous=previous, run_id=run.id)


@flow(name="check-data-changed", log_prints=True)
def check_data_changed(path: str, deployment: str, spec_name: str) -> dict[str, Any]:
    """Start ``deployment`` when the file at ``path`` differs from what the spec last trained on.

    ``path`` is a deployment parameter (editable in the Prefect UI): it is checked like a
    pipeline's ``data`` before the file is read (``TRACKFLOW_DATA_ROOTS``).
    """
    from prefect.deployments import run_deployment

    from trackflow.dashboard.publish import publish_event
    from trackflow.tasks.data import check_location
    from trackflow.tracking.fluent import get_client

    check_location(str(path))
    check = compare_data(get_client(), spec_name, path)
    outcome: dict[str, Any] = {"path": check.path, "current": check.current, "previous": check.previous,
                               "changed": check.changed, "flow_run_id": None}
    if not check.changed:
        print(f"{check.path} is unchanged ({check.current[:19]}); nothing to do.")
        return outcome
    publish_event(DATA_CHANGED_EVENT, resource_id=f"trackflow.data.{spec_name}",
                  resource={"prefect.resource.name": check.path},
                  payload={"path": check.path, "previous": check.previous, "current": check.current,
                           "last_run_id": check.run_id})  # fmt: skip
    key = f"trackflow-data-changed:{spec_name}:{check.previous or 'none'}->{check.current}"
    flow_run = run_deployment(deployment, timeout=0, as_subflow=False, idempotency_key=key,
                              tags=["trackflow-retrain:data-changed"])
    # a sync call: Prefect's async_dispatch returns the FlowRun (a coroutine only in async code)
    print(f"{check.path} changed ({check.previous or 'never trained'} -> {check.current}); "
          f"started {flow_run.name}.")  # type: ignore[union-attr]
    outcome["flow_run_id"] = str(flow_run.id)  # type: ignore[union-attr]
    return outcome
