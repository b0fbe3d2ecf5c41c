"""Rerun a past flow run with the same parameters, after reporting what changed since.

``trackflow rerun RUN_ID`` first compares the run with today's environment:

* **code**: the run's git commit and dirty flag vs what trackflow records now, and the
  hash of the flow's source file (Prefect's flow version) vs the file now;
* **data**: every file the run (or its task runs) read, by content fingerprint, vs the
  file at the same path now (changed or missing);
* **packages**: the run's recorded package versions and Python version vs this process;

then runs the flow again in the run's experiment, tagged ``trackflow.rerun_of=<run id>``.
The entrypoint and exact parameters come from the run's ``trackflow.flow_entrypoint`` /
``trackflow.parameters`` tags (see :mod:`trackflow.tracked.provenance`); runs
without the JSON parameters fall back to the run's params, decoded as JSON / YAML scalars.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import yaml

from trackflow.exceptions import NotFoundError
from trackflow.tracked.provenance import (
    ENTRYPOINT_TAG,
    FLOW_VERSION_TAG,
    PARAMETERS_TAG,
    RERUN_OF_TAG,
    SPEC_NAME_TAG,
    SPEC_TAG,
)
from trackflow.tracking.differences import Difference, mapping_differences

__all__ = ["Difference", "RerunPlan", "plan_rerun", "rerun", "data_differences", "package_differences"]

_PIPELINE_FLOWS = {"training-pipeline": "trackflow.flows:training_pipeline"}


@dataclass(frozen=True)
class RerunPlan:
    """What a rerun will run, and what differs from the original run."""

    run: Any
    entrypoint: str
    parameters: dict[str, Any]
    differences: list[Difference] = field(default_factory=list)
    parameters_exact: bool = True


def code_differences(run: Any, flow: Any) -> list[Difference]:
    """Commit and dirty flag (as trackflow records them) and the flow's source hash, then vs now."""
    from trackflow.tracking.source import current_source

    now = current_source()
    found = []
    if run.source_commit != now.commit:
        found.append(Difference("code", "git commit", run.source_commit, now.commit))
    if run.source_dirty != now.dirty and (run.source_dirty or now.dirty):
        found.append(Difference("code", "uncommitted changes", _flag(run.source_dirty), _flag(now.dirty)))
    recorded, current = run.tags.get(FLOW_VERSION_TAG), getattr(flow, "version", None)
    if recorded and current and recorded != current:
        found.append(Difference("code", f"source of flow {flow.name!r}", recorded, current))
    return found


def _flag(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")


def _file_of(source: str | None) -> Path | None:
    if not source or not source.startswith("file://"):
        return None
    return Path(unquote(urlparse(source).path))


def data_differences(client: Any, run: Any) -> list[Difference]:
    """Files the run (or its task runs) read whose content is different or gone now."""
    from trackflow.tracking.fingerprint import fingerprint_dataset

    runs = [run, *client.get_child_runs(run.id)]
    seen: dict[str, str] = {}
    for item in runs:
        for used in client.get_datasets(item.id, role="input"):
            path = _file_of(used.dataset.source) if used.dataset.kind == "file" else None
            if path is not None:
                seen.setdefault(str(path), used.dataset.fingerprint)
    found = []
    for file, before in sorted(seen.items()):
        if not Path(file).is_file():
            found.append(Difference("data", file, before, "missing"))
            continue
        now = fingerprint_dataset(Path(file), profile=False).fingerprint
        if now != before:
            found.append(Difference("data", file, before, now))
    return found


def package_differences(run: Any) -> list[Difference]:
    """Package (and Python) versions recorded on the run vs this process."""
    from trackflow.tracking.source import package_versions

    found = mapping_differences("packages", run.package_versions, package_versions(), keys=run.package_versions)
    if run.python_version and run.python_version != platform.python_version():
        found.append(Difference("packages", "python", run.python_version, platform.python_version()))
    return found


def _decode_param(text: str) -> Any:
    if text == "None":
        return None
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (int, float, bool, list, dict)) else text


def _parameters(run: Any, flow: Any) -> tuple[dict[str, Any], bool]:
    from trackflow.tracked.provenance import decode_parameters

    if PARAMETERS_TAG in run.tags:
        return decode_parameters(run.tags[PARAMETERS_TAG]), True
    import inspect

    names = list(inspect.signature(flow.fn).parameters)
    return {k: _decode_param(v) for k, v in run.params.items() if k in names}, False


def _entrypoint(run: Any, given: str | None) -> str:
    if given:
        return given
    if ENTRYPOINT_TAG in run.tags:
        return str(run.tags[ENTRYPOINT_TAG])
    known = _PIPELINE_FLOWS.get(run.tags.get("prefect.flow", ""))
    if known is not None:
        return known
    script = Path(run.entrypoint or "").expanduser()  # a script run with `python file.py`: its recorded path
    if script.suffix == ".py" and script.is_file() and run.tags.get("prefect.flow"):
        return f"{script}:{run.tags['prefect.flow'].replace('-', '_')}"  # Prefect's default flow name
    raise NotFoundError(
        f"Run {run.id} does not record which flow it ran.",
        hint="Pass the flow with --flow package.module:flow or path/to/file.py:flow.",
    )


def plan_rerun(run_id: str, *, client: Any = None, flow: str | None = None,
               overrides: Mapping[str, Any] | None = None) -> RerunPlan:
    """Find what the run ran and with which parameters, and what differs now (nothing runs)."""
    from trackflow.deployments.launch import check_flow_parameters, load_flow
    from trackflow.deployments.spec import merge_parameters
    from trackflow.tracking.fluent import get_client

    client = client or get_client()
    run = client.get_run(run_id)
    if run.kind == "task" and flow is None:
        raise NotFoundError(f"Run {run.id} is not a flow run; only runs of tracked flows can be rerun.")
    entrypoint = _entrypoint(run, flow)
    flow_obj = load_flow(entrypoint)
    parameters, exact = _parameters(run, flow_obj)
    parameters = check_flow_parameters(flow_obj, merge_parameters(parameters, dict(overrides or {})))
    differences = [*code_differences(run, flow_obj), *data_differences(client, run), *package_differences(run)]
    return RerunPlan(run=run, entrypoint=entrypoint, parameters=parameters, differences=differences,
                     parameters_exact=exact)


def rerun(plan: RerunPlan) -> Any:
    """Run the plan's flow with its parameters in the original run's experiment."""
    from trackflow.deployments.launch import load_flow, run_flow

    tags = {RERUN_OF_TAG: plan.run.id}
    for key in (SPEC_TAG, SPEC_NAME_TAG):
        if key in plan.run.tags:
            tags[key] = plan.run.tags[key]
    return run_flow(load_flow(plan.entrypoint), plan.parameters, entrypoint=plan.entrypoint,
                    experiment=plan.run.experiment_name, tags=tags)
