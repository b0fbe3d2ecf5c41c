"""The run report a tracked flow run publishes into the Prefect UI.

At the end of every tracked flow run, :func:`collect_summary` reads the flow's run, its
task runs, datasets, models, notes and lineage through the Client, and
:func:`publish_run_report` publishes two Prefect artifacts, linked to the flow run:

* markdown ``trackflow-run-report-<flow-name>``: params, final metrics, task runs,
  datasets with a profile summary, models, notes and decisions, and the lineage as a
  fenced ``mermaid`` block (the Prefect UI renders it as a diagram);
* table ``trackflow-task-metrics-<flow-name>``: one row per task run with its metrics.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any

from trackflow.dashboard.publish import publish_markdown, publish_table
from trackflow.tracking.entities import Artifact, LineageEdge, Note, Run, RunDataset
from trackflow.tracking.fluent import get_client
from trackflow.tracking.lineage import LineageGraph, LineageNode

__all__ = [
    "RunSummary",
    "collect_summary",
    "lineage_graph",
    "metrics_rows",
    "publish_run_report",
    "render_markdown",
    "report_key",
    "table_key",
]

_MAX_PROFILE_COLUMNS = 6


@dataclass(frozen=True)
class RunSummary:
    """What the report shows: a flow run and what its task runs used, made and noted."""

    run: Run
    children: list[Run]
    datasets: list[tuple[Run, RunDataset]] = field(default_factory=list)
    models: list[tuple[Run, str, list[Artifact]]] = field(default_factory=list)
    notes: list[tuple[Run, Note]] = field(default_factory=list)
    graph: LineageGraph | None = None


def report_key(flow_name: str) -> str:
    """Artifact key of the markdown run report of ``flow_name``."""
    return f"trackflow-run-report-{flow_name}"


def table_key(flow_name: str) -> str:
    """Artifact key of the task-metrics table of ``flow_name``."""
    return f"trackflow-task-metrics-{flow_name}"


def collect_summary(run_id: str, *, children: list[Run] | None = None) -> RunSummary:
    """Read everything the report shows about the flow run ``run_id``."""
    client = get_client()
    run = client.get_run(run_id)
    kids = client.get_child_runs(run_id) if children is None else children
    runs = [run, *kids]
    datasets = [(r, d) for r in runs for d in client.get_datasets(r.id)]
    notes = [(r, n) for r in runs for n in client.get_notes(r.id)]
    models: list[tuple[Run, str, list[Artifact]]] = []
    for r in runs:
        folders: dict[str, list[Artifact]] = {}
        for artifact in client.list_artifacts(r.id):
            folder = artifact.path.split("/", 1)[0]
            if folder.startswith("model") and "/" in artifact.path:
                folders.setdefault(folder, []).append(artifact)
        models.extend((r, folder, files) for folder, files in folders.items())
    return RunSummary(run=run, children=kids, datasets=datasets, models=models, notes=notes, graph=lineage_graph(runs))


def lineage_graph(runs: list[Run]) -> LineageGraph:
    """The lineage around ``runs`` (one hop), a model's files folded into one node."""
    client = get_client()
    nodes: dict[str, LineageNode] = {}
    edges: dict[tuple[str, str, str], LineageEdge] = {}
    graph = client.lineage([run.ref for run in runs], direction="both", depth=1)
    nodes.update(graph.nodes)
    for edge in graph.edges:
        edges[(edge.source, edge.target, edge.relation)] = edge
    folded: dict[str, str] = {}
    for edge in edges.values():
        if edge.target.startswith("artifact:") and edge.name and "/" in edge.name and edge.run_id:
            folder = edge.name.split("/", 1)[0]
            folded[edge.target] = f"artifact:{edge.run_id}/{folder}"
            kind = "model" if folder.startswith("model") else "artifact"
            nodes[folded[edge.target]] = LineageNode(folded[edge.target], kind, folder, {})
    merged: dict[tuple[str, str, str], LineageEdge] = {}
    for edge in edges.values():
        source, target = folded.get(edge.source, edge.source), folded.get(edge.target, edge.target)
        merged.setdefault((source, target, edge.relation), _replace_edge(edge, source, target))
    used = {n for key in merged for n in key[:2]} | {runs[0].ref}
    kept = {k: v for k, v in nodes.items() if k in used and k not in folded}
    for edge in merged.values():  # a dataset is best named by the step that made it
        node = kept.get(edge.target)
        if edge.relation == "output" and node is not None and node.kind == "dataset" and edge.name:
            kept[edge.target] = LineageNode(node.id, node.kind, edge.name, node.attributes)
    return LineageGraph(root=runs[0].ref, nodes=kept, edges=tuple(merged.values()))


def _replace_edge(edge: LineageEdge, source: str, target: str) -> LineageEdge:
    return LineageEdge(source, target, edge.relation, edge.run_id, edge.name, edge.created_at)


# ---- rendering ------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value).replace("|", "\\|").replace("\n", " ").strip()


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines + [""]


def _duration(run: Run) -> float | None:
    seconds = run.duration_seconds
    return round(seconds, 3) if seconds is not None else None


def _profile(dataset: Any) -> str:
    columns = (dataset.profile or {}).get("columns") or {}
    parts = []
    for name, stats in list(columns.items())[:_MAX_PROFILE_COLUMNS]:
        if "mean" in stats:
            text = f"mean {_cell(stats.get('mean'))}, min {_cell(stats.get('min'))}, max {_cell(stats.get('max'))}"
        elif "top" in stats:
            text = f"{stats.get('distinct')} distinct"
        else:
            text = stats.get("dtype", "")
        nulls = stats.get("null_count")
        parts.append(f"`{name}`: {text}" + (f", {nulls} null" if nulls else ""))
    if len(columns) > _MAX_PROFILE_COLUMNS:
        parts.append(f"+{len(columns) - _MAX_PROFILE_COLUMNS} more columns")
    return "; ".join(parts) or "-"


def render_markdown(summary: RunSummary, *, flow_name: str) -> str:
    """The markdown run report."""
    run = summary.run
    lines = [f"# trackflow run report: {flow_name}", ""]
    source = run.source_commit[:12] + (" (dirty)" if run.source_dirty else "") if run.source_commit else "-"
    facts = [
        ["Run", f"{run.name} (`{run.id}`)"], ["Experiment", run.experiment_name], ["Status", run.status.value],
        ["Prefect flow run", f"`{run.flow_run_id}`"], ["Started", run.start_time.isoformat(timespec="seconds")],
        ["Duration (s)", _duration(run)], ["Source", f"{source} {run.entrypoint or ''}"], ["Error", run.error],
    ]  # fmt: skip
    lines += _table(["", ""], [fact for fact in facts if fact[1] not in (None, "")])
    lines += ["## Parameters", ""] + (_table(["param", "value"], [[k, v] for k, v in run.params.items()]) if run.params else ["No parameters.", ""])
    lines += ["## Metrics", ""]
    lines += _table(["metric", "value"], [[k, v] for k, v in run.metrics.items()]) if run.metrics else ["No flow-level metrics.", ""]
    lines += ["## Task runs", ""]
    lines += _table(
        ["run", "status", "attempts", "duration (s)", "metrics"],
        [[c.name + (" (cached)" if c.tags.get("trackflow.cache_hit") else ""), c.status.value, c.attempts, _duration(c),
          ", ".join(f"{k}={_cell(v)}" for k, v in c.metrics.items())] for c in summary.children],
    ) if summary.children else ["No task runs.", ""]  # fmt: skip
    lines += ["## Datasets", ""]
    lines += _table(
        ["dataset", "role", "run", "rows x columns", "fingerprint", "profile"],
        [[d.name, d.role, r.name, f"{d.dataset.num_rows} x {d.dataset.num_columns}", f"`{d.dataset.fingerprint[:19]}`",
          _profile(d.dataset)] for r, d in summary.datasets],
    ) if summary.datasets else ["No datasets.", ""]  # fmt: skip
    lines += ["## Models", ""]
    lines += _table(
        ["run", "artifact", "class", "training metrics"],
        [[r.name, f"runs:/{r.id}/{folder}", r.params.get("model.class", ""),
          ", ".join(f"{k}={_cell(v)}" for k, v in r.metrics.items() if k.startswith("training_"))]
         for r, folder, _files in summary.models],
    ) if summary.models else ["No models.", ""]  # fmt: skip
    lines += ["## Notes and decisions", ""]
    lines += [f"- **{n.kind.value}** ({r.name}): {_cell(n.text)}" for r, n in summary.notes] or ["No notes."]
    lines += ["", "## Lineage", ""]
    if summary.graph is not None and summary.graph.edges:
        lines += ["```mermaid", summary.graph.to_mermaid(), "```"]
    else:
        lines += ["No lineage recorded."]
    return "\n".join(lines) + "\n"


def metrics_rows(summary: RunSummary) -> list[dict[str, Any]]:
    """One table row per task run: name, status, attempts, duration and every metric."""
    keys = sorted({k for child in summary.children for k in child.metrics})
    rows = []
    for child in summary.children:
        row: dict[str, Any] = {"run": child.name, "kind": child.kind, "status": child.status.value,
                               "attempts": child.attempts, "duration_s": _duration(child)}  # fmt: skip
        for key in keys:
            value = child.metrics.get(key)
            row[key] = None if value is None or (isinstance(value, float) and not math.isfinite(value)) else value
        rows.append(row)
    return rows


def publish_run_report(summary: RunSummary, *, flow_name: str) -> list[Any]:
    """Publish the report and the table; returns what still has to be awaited (async flows)."""
    results = [
        publish_markdown(render_markdown(summary, flow_name=flow_name), key=report_key(flow_name),
                         description=f"trackflow run {summary.run.id} ({summary.run.status.value})"),
        publish_table(metrics_rows(summary), key=table_key(flow_name),
                      description=f"Task-run metrics of trackflow run {summary.run.id}"),
    ]  # fmt: skip
    return [r for r in results if inspect.isawaitable(r)]
