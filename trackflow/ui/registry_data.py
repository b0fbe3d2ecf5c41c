"""The data of the registry pages (the pages and ``/api/models...`` share it).

* :func:`models_overview`: every model with its newest version per stage and its aliases;
* :func:`model_detail`: a model's versions (stage, aliases, status, run, metrics of the run
  completed by its flow run's),
  the metric keys to chart across versions, the transition history (who / when / why and the
  promotion decision's values) and its latest card;
* :func:`version_detail`: one version's signature, input example, the upstream lineage to
  its data, where it is served, its run and why it is what it is (``why``: the registry's
  report, :mod:`trackflow.ui.why_view`).
"""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any

from trackflow.registry.entities import ModelDeployment, ModelVersion, RegisteredModel, StageTransition
from trackflow.registry.stages import Stage
from trackflow.tracking.client import Client
from trackflow.tracking.entities import Run

__all__ = ["models_overview", "model_detail", "version_detail", "model_card_text", "STAGE_ORDER"]

logger = logging.getLogger("trackflow.ui")
STAGE_ORDER = ["production", "staging", "development", "archived"]
_DATA_IMAGE = re.compile(r"!\[([^\]]*)\]\(data:[^)]*\)")


def _when(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _metrics(run: Run | None, parent: Run | None) -> dict[str, float | None]:
    """The version's run's metrics, completed by the flow run it belongs to (its evaluation, say)."""
    merged = {**(parent.metrics if parent else {}), **(run.metrics if run else {})}
    return {k: _finite(v) for k, v in sorted(merged.items())}


def _runs_with_parents(client: Client, run_ids: list[str]) -> tuple[dict[str, Run], dict[str, Run]]:
    """Runs by id and their parent runs by id, in two reads."""
    runs = {r.id: r for r in client.get_runs(run_ids)} if run_ids else {}
    parent_ids = sorted({r.parent_run_id for r in runs.values() if r.parent_run_id})
    parents = {r.id: r for r in client.get_runs(parent_ids)} if parent_ids else {}
    return runs, parents


def _version(mv: ModelVersion, run: Run | None = None, parent: Run | None = None) -> dict[str, Any]:
    return {
        "name": mv.name, "version": mv.version, "stage": mv.stage.value, "aliases": list(mv.aliases),
        "status": mv.status.value, "run_id": mv.run_id, "run_name": run.name if run else None,
        "source": mv.source, "description": mv.description, "tags": dict(mv.tags), "uri": mv.uri,
        "created_at": _when(mv.created_at), "href": f"/models/{mv.name}/versions/{mv.version}",
        "metrics": _metrics(run, parent),
    }  # fmt: skip


def _model(model: RegisteredModel) -> dict[str, Any]:
    return {"name": model.name, "description": model.description, "tags": dict(model.tags),
            "aliases": dict(model.aliases), "latest_version": model.latest_version,
            "created_at": _when(model.created_at), "updated_at": _when(model.updated_at),
            "href": f"/models/{model.name}"}  # fmt: skip


def _transition(t: StageTransition) -> dict[str, Any]:
    return {"id": t.id, "version": t.version, "from_stage": t.from_stage.value if t.from_stage else None,
            "to_stage": t.to_stage.value, "user": t.user, "reason": t.reason, "flow_run_id": t.flow_run_id,
            "details": t.details, "when": _when(t.created_at)}  # fmt: skip


def _deployment(d: ModelDeployment) -> dict[str, Any]:
    return {"id": d.id, "name": d.name, "version": d.version, "target": d.target, "status": d.status,
            "since": _when(d.since), "until": _when(d.until), "flow_run_id": d.flow_run_id, "details": d.details}


def models_overview(client: Client) -> list[dict[str, Any]]:
    """Every registered model: the newest version in each stage, and its aliases."""
    registry = client.registry
    found = []
    for model in registry.list_models():
        latest: dict[str, dict[str, Any]] = {}
        for mv in registry.list_versions(model.name):
            latest[mv.stage.value] = {"version": mv.version, "href": f"/models/{model.name}/versions/{mv.version}"}
        found.append({**_model(model), "latest_by_stage": {s: latest[s] for s in STAGE_ORDER if s in latest}})
    return found


def model_card_text(client: Client, name: str, version: int) -> str:
    """The version's model card (the markdown trackflow publishes to Prefect), its lineage image left out."""
    from trackflow.dashboard.model_card import render_model_card

    try:
        text = render_model_card(client, name, version)
    except Exception as exc:  # noqa: BLE001 - the page shows the rest
        logger.warning("trackflow ui: no model card for %s v%s: %s", name, version, exc)
        return ""
    return _DATA_IMAGE.sub(r"[\1: open the lineage explorer]", text)


def model_detail(client: Client, name: str) -> dict[str, Any]:
    """A model page: model, versions (newest first) with their runs' metrics, metric keys, history, card."""
    registry = client.registry
    model = registry.get_model(name)
    versions = registry.list_versions(name)
    runs, parents = _runs_with_parents(client, [v.run_id for v in versions if v.run_id])

    def row(mv: ModelVersion) -> dict[str, Any]:
        run = runs.get(mv.run_id or "")
        return _version(mv, run, parents.get(run.parent_run_id or "") if run else None)

    rows = [row(v) for v in sorted(versions, key=lambda v: v.version, reverse=True)]
    keys = sorted({k for row in rows for k in row["metrics"]})
    newest = rows[0]["version"] if rows else None
    return {
        "model": _model(model),
        "versions": rows,
        "metric_keys": keys,
        "history": [_transition(t) for t in reversed(registry.history(name))],
        "card": model_card_text(client, name, newest) if newest is not None else "",
        "card_version": newest,
    }


def _input_example(client: Client, run_id: str, path: str) -> dict[str, Any] | None:
    from trackflow.registry.model_format import _EXAMPLE_FILE

    try:
        raw = json.loads(client.read_artifact(run_id, f"{path}/{_EXAMPLE_FILE}"))
    except Exception:  # noqa: BLE001 - a package without an example
        return None
    return {"columns": raw.get("columns", []), "data": raw.get("data", [])[:5]}


def version_detail(client: Client, name: str, version: int | str) -> dict[str, Any]:
    """A version page: the version, signature, input example, upstream lineage, deployments, run."""
    from trackflow.dashboard.model_card import package_signature
    from trackflow.registry.uris import parse_source
    from trackflow.ui.lineage import lineage_data
    from trackflow.ui.why_view import why_data

    registry = client.registry
    mv = registry.get_version(name, version)
    runs, parents = _runs_with_parents(client, [mv.run_id] if mv.run_id else [])
    run = runs.get(mv.run_id or "")
    parent = parents.get(run.parent_run_id or "") if run else None
    try:
        run_id, path = parse_source(mv.source, client.artifacts)
    except Exception:  # noqa: BLE001 - an unreadable source: no signature, no example
        run_id, path = "", ""
    lineage = lineage_data(client, mv.ref, direction="upstream", depth=None, scope="run", svg=True)
    datasets = [n for n in lineage["nodes"] if n["kind"] == "dataset"]
    return {
        "model": _model(registry.get_model(name)),
        "version": _version(mv, run, parent),
        "stages": [s.value for s in Stage],
        "signature": package_signature(client, run_id, path) if run_id else None,
        "input_example": _input_example(client, run_id, path) if run_id else None,
        "lineage": lineage,
        "datasets": datasets,
        "lineage_href": f"/lineage?ref={mv.ref}",
        "deployments": [_deployment(d) for d in registry.deployments(name, version=mv.version)],
        "history": [_transition(t) for t in reversed(registry.history(name, version=mv.version))],
        "why": why_data(client, name, mv.version),
        "run": None if run is None else {"id": run.id, "name": run.name, "status": run.status.value,
                                         "experiment": run.experiment_name, "params": run.params,
                                         "href": f"/runs/{run.id}",
                                         "parent": None if parent is None else {"id": parent.id, "name": parent.name,
                                                                                "href": f"/runs/{parent.id}"}},
    }  # fmt: skip
