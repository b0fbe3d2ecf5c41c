"""The model card: a markdown artifact describing one registered model version.

It shows the version (stage, aliases, source, payload hash), its metrics (the producing
flow run's evaluation, rolled up from its tasks, and the training task run's own) and the
run's params, the input signature as a table, what the version came from (its upstream
lineage as an SVG image both Prefect UIs render, the mermaid source folded below it), why
this version (its promotion decision and compared values, metrics against the previous
version, the notes upstream of it with their evidence and its data's change, rendered from
the same :class:`~trackflow.registry.why_report.WhyReport` as ``trackflow models why``) and
the model's stage history; with ``TRACKFLOW_UI_URL`` set, a link to the version's page in
``trackflow ui``. Published under the key ``model-card-<name>``, so the cards of
successive versions stack up as one artifact's history.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from trackflow.dashboard.diagram import lineage_markdown
from trackflow.dashboard.publish import artifact_key, publish_markdown
from trackflow.dashboard.ui_links import model_version_url

__all__ = ["render_model_card", "publish_model_card", "model_card_key", "package_signature", "why_section"]

logger = logging.getLogger("trackflow.dashboard")
_MAX_PARAMS = 40
_MAX_HISTORY = 30


def model_card_key(name: str) -> str:
    """The Prefect artifact key of a model's card: ``model-card-<name>``."""
    return artifact_key("model-card", name)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if hasattr(value, "isoformat"):
        return str(value.isoformat(timespec="seconds"))
    if hasattr(value, "value"):  # enums
        value = value.value
    return str(value).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def package_signature(client: Any, run_id: str, path: str) -> dict[str, Any] | None:
    """The signature dict stored in the package manifest of ``runs:/<run_id>/<path>``, or None (never raises)."""
    import yaml

    from trackflow.registry.model_format import MANIFEST_FILE
    from trackflow.registry.signature import ModelSignature

    try:
        data = yaml.safe_load(client.read_artifact(run_id, f"{path}/{MANIFEST_FILE}"))
        raw = data.get("signature") if isinstance(data, dict) else None
        return ModelSignature.from_dict(raw).to_dict() if raw else None
    except Exception as exc:  # noqa: BLE001 - the card shows what it can
        logger.warning("trackflow: no signature for the model card of runs:/%s/%s: %s", run_id, path, exc)
        return None


def _number(value: float) -> str:
    return f"{value:.4g}"


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _evaluation_metrics(client: Any, root: Any, training: dict[str, float]) -> dict[str, float]:
    """The root run's rollup without duplicates: ``<task>.<key>`` only where tasks collide.

    A qualified key is shown only when more than one task logged ``key`` or its value
    differs from the bare one; keys the training table shows with the same value are left out.
    """
    from trackflow.tracking.rollup import rollup_metrics, task_label

    children = client.get_child_runs(root.id)
    rolled = rollup_metrics(client, root.id, children=children)
    labels: dict[str, set[str]] = {}
    for child in children:
        if child.status.is_terminal:
            for key in child.metrics:
                labels.setdefault(key, set()).add(task_label(child))
    hidden: set[str] = set()
    for key, owners in labels.items():
        for label in owners:
            qualified = f"{label}.{key}"
            if len(owners) == 1 and qualified in rolled and key in rolled and _same(rolled[qualified], rolled[key]):
                hidden.add(qualified)
    return {
        k: v for k, v in rolled.items()
        if k not in hidden and not (k in training and _same(training[k], v))
    }  # fmt: skip


def _metrics_section(client: Any, run: Any) -> list[str]:
    """``## Metrics``: the producing flow run's evaluation, and the training task run's own metrics."""
    from trackflow.tracking.rollup import top_level_run

    training = dict(run.metrics) if run.kind == "task" and run.parent_run_id else {}
    root = top_level_run(client, run.id)
    evaluation = _evaluation_metrics(client, root, training)
    if not evaluation and not training:
        return []
    lines = ["## Metrics", ""]
    if evaluation:
        what = "flow run" if root.kind == "flow" else "run"
        lines += [f"### Evaluation ({what} {_cell(root.name)})", ""]
        lines += _table(["metric", "value"], [(k, _number(v)) for k, v in sorted(evaluation.items())]) + [""]
    if training:
        lines += [f"### Training (task run {_cell(run.name)})", ""]
        lines += _table(["metric", "value"], [(k, _number(v)) for k, v in sorted(training.items())]) + [""]
    return lines


def why_section(client: Any, name: str, version: int) -> list[str]:
    """``## Why this model?``: the version's :class:`WhyReport` as markdown (no lines when it cannot be built)."""
    from trackflow.registry.why import why
    from trackflow.registry.why_render import render_why_markdown

    try:
        report = why(f"models:/{name}/{version}", client=client)
    except Exception as exc:  # noqa: BLE001 - the card shows what it can
        logger.warning("trackflow: no 'why' section for the model card of %s v%s: %s", name, version, exc)
        return []
    return [render_why_markdown(report, level=2, title="Why this model?", history=False)]


def render_model_card(client: Any, name: str, version: int) -> str:
    """The markdown card of ``name`` version ``version`` (``client`` is a trackflow Client)."""
    from trackflow.registry.uris import parse_source

    registry = client.registry
    mv = registry.get_version(name, version)
    model = registry.get_model(name)
    run = client.get_run(mv.run_id) if mv.run_id else None
    lines = [f"# Model card: {name} v{mv.version}", ""]
    if model.description:
        lines += [model.description, ""]
    facts: list[tuple[str, Any]] = [
        ("stage", mv.stage), ("aliases", ", ".join(mv.aliases) or "-"), ("status", mv.status),
        ("registered", mv.created_at), ("source", f"`{mv.source}`"), ("payload sha256", f"`{mv.payload_sha256}`"),
    ]
    if run is not None:
        facts += [("run", f"{run.name} (`{run.id}`)"), ("experiment", run.experiment_name)]
    page = model_version_url(name, mv.version)
    if page is not None:
        facts.append(("trackflow ui", f"[{name} v{mv.version}]({page})"))
    facts += [(f"tag {k}", v) for k, v in mv.tags.items()]
    if mv.description:
        facts.append(("description", mv.description))
    lines += _table(["", ""], facts) + [""]
    if run is not None:
        lines += _metrics_section(client, run)
    if run is not None and run.params:
        params = sorted(run.params.items())
        lines += ["## Parameters", ""] + _table(["param", "value"], params[:_MAX_PARAMS])
        lines += [f"_{len(params) - _MAX_PARAMS} more not shown_"] if len(params) > _MAX_PARAMS else []
        lines.append("")
    run_id, path = parse_source(mv.source, client.artifacts)
    signature = package_signature(client, run_id, path)
    lines += ["## Signature", ""]
    if signature:
        lines += _table(["input column", "dtype"], [(c["name"], c["dtype"]) for c in signature["inputs"]])
        output = signature.get("output") or {}
        if output:
            described = ", ".join(f"{k}={v}" for k, v in output.items() if k != "columns")
            lines += ["", f"Output: {_cell(described)}"]
    else:
        lines.append("_No signature recorded (register with an input_example to get one)._")
    lineage = client.lineage(f"models:/{name}/{mv.version}", direction="upstream", scope="run")
    lines += ["", "## Lineage", ""] + lineage_markdown(lineage, title=f"lineage of {name} v{mv.version}")
    lines += why_section(client, name, mv.version)
    history = registry.history(name)[-_MAX_HISTORY:]
    lines += ["## Stage history", ""]
    lines += _table(
        ["when", "version", "from", "to", "user", "reason"],
        [(t.created_at, t.version, t.from_stage or "-", t.to_stage, t.user, t.reason) for t in reversed(history)],
    )
    return "\n".join(lines) + "\n"


def publish_model_card(client: Any, name: str, version: int) -> UUID | None:
    """Render the card and publish it as the markdown artifact ``model-card-<name>``.

    Never raises: a card that cannot be rendered or published logs a warning.
    """
    try:
        markdown = render_model_card(client, name, version)
    except Exception as exc:  # noqa: BLE001 - publishing never fails the flow
        logger.warning("trackflow: could not render the model card of %s v%s: %s", name, version, exc)
        return None
    return publish_markdown(markdown, key=model_card_key(name), description=f"Model card of {name} version {version}")
