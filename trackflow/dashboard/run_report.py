"""The run report a tracked flow run publishes into the Prefect UI.

At the end of every tracked flow run, :func:`collect_summary` reads the flow's run, its
task runs, datasets, models, notes and lineage through the Client, and
:func:`publish_run_report` publishes two Prefect artifacts, linked to the flow run:

* markdown ``trackflow-run-report-<flow-name>``: params, final metrics (the flow run's
  own and its tasks' rolled up), task runs, each dataset once (profiles folded), models
  and what they were registered as, notes and decisions, and the lineage the flow run
  recorded as an SVG image (both Prefect UIs render it; mermaid source folded below);
* table ``trackflow-task-metrics-<flow-name>``: one row per task run with its metrics.

When ``TRACKFLOW_UI_URL`` is set, the report links to the run's page in ``trackflow ui`` and
to the compare page of this run and the previous run of the same flow, and each table row
carries its task run's page (:mod:`trackflow.dashboard.ui_links`).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any

from trackflow.dashboard.diagram import lineage_markdown
from trackflow.dashboard.publish import ArtifactTarget, publish_markdown, publish_table
from trackflow.dashboard.ui_links import compare_url, previous_flow_run, run_url, ui_base_url
from trackflow.tracking.entities import LineageNode, Note, Run, RunDataset
from trackflow.tracking.fluent import get_client
from trackflow.tracking.lineage import LineageGraph

__all__ = [
    "Publication",
    "RunSummary",
    "collect_summary",
    "lineage_graph",
    "metrics_rows",
    "publish_metrics_table",
    "publish_report",
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
    models: list[tuple[Run, LineageNode]] = field(default_factory=list)
    notes: list[tuple[Run, Note]] = field(default_factory=list)
    graph: LineageGraph | None = None
    previous_run_id: str | None = None
    """The previous flow run of the same flow (read only when ``TRACKFLOW_UI_URL`` is set: the compare link)."""


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
    graph = lineage_graph(runs)
    with_data = _runs_with_datasets(graph)  # the graph holds every dataset edge of these runs
    datasets = [(r, d) for r in runs if r.ref in with_data for d in client.get_datasets(r.id)]
    notes_of = client.get_notes_of_runs([r.id for r in runs])
    notes = [(r, n) for r in runs for n in notes_of.get(r.id, [])]
    by_id = {r.id: r for r in runs}
    models = [(by_id[n.attributes["run_id"]], n) for n in graph.nodes.values()
              if n.kind == "model" and n.attributes.get("run_id") in by_id]  # fmt: skip
    previous = previous_flow_run(client, run) if ui_base_url() and run.kind == "flow" else None
    return RunSummary(run=run, children=kids, datasets=datasets, models=models, notes=notes, graph=graph,
                      previous_run_id=previous)


def _runs_with_datasets(graph: LineageGraph) -> set[str]:
    """The run nodes of ``graph`` with an input or output dataset edge (the others have no
    datasets to read: a flow of many plain tasks reads none)."""
    found: set[str] = set()
    for edge in graph.edges:
        if edge.relation == "input" and edge.source.startswith("dataset:"):
            found.add(edge.target)
        elif edge.relation == "output" and edge.target.startswith("dataset:"):
            found.add(edge.source)
    return found


def lineage_graph(runs: list[Run]) -> LineageGraph:
    """The lineage the flow run ``runs[0]`` and its task runs recorded (``scope="run"``)."""
    return get_client().lineage(runs[0].ref, direction="both", scope="run")


# ---- rendering ------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ").strip()


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    """A markdown table without the columns that are empty in every row."""
    cells = [[_cell(v) for v in row] for row in rows]
    keep = [i for i in range(len(headers)) if i == 0 or any(row[i] for row in cells)]
    lines = ["| " + " | ".join(headers[i] for i in keep) + " |", "|" + "---|" * len(keep)]
    lines += ["| " + " | ".join(row[i] for i in keep) + " |" for row in cells]
    return lines + [""]


def _duration(run: Run) -> float | None:
    seconds = run.duration_seconds
    return round(seconds, 3) if seconds is not None else None


def _metrics_text(metrics: dict[str, float], keep: Any = lambda key: True) -> str:
    return ", ".join(f"{k}={_cell(v)}" for k, v in sorted(metrics.items()) if keep(k))


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


def _dataset_lines(summary: RunSummary) -> list[str]:
    """Each dataset once: who made it, who used it; profiles folded below."""
    if not summary.datasets:
        return ["No datasets.", ""]
    by_fingerprint: dict[str, dict[str, Any]] = {}
    for run, used in summary.datasets:
        entry = by_fingerprint.setdefault(used.dataset.fingerprint, {"dataset": used.dataset, "made": [], "used": []})
        side = entry["made"] if used.role == "output" else entry["used"]
        if run.name not in side:
            side.append(run.name)
    rows, profiles = [], ["<details><summary>Dataset profiles</summary>", ""]
    for fingerprint, entry in by_fingerprint.items():
        ds = entry["dataset"]
        label = f"{ds.name} (`{fingerprint.split(':', 1)[-1][:8]}`)"
        rows.append([label, f"{ds.num_rows} x {ds.num_columns}", ", ".join(entry["made"]), ", ".join(entry["used"])])
        profiles += [f"- **{ds.name}**: {_profile(ds)}"]
    table = _table(["dataset", "rows x columns", "made by", "used by"], rows)
    return table + profiles + ["", "</details>", ""]


def render_markdown(summary: RunSummary, *, flow_name: str) -> str:
    """The markdown run report."""
    run = summary.run
    lines = [f"# trackflow run report: {flow_name}", ""]
    source = run.source_commit[:12] + (" (dirty)" if run.source_dirty else "") if run.source_commit else "-"
    facts: list[list[Any]] = [
        ["Run", f"{run.name} (`{run.id}`)"], ["Experiment", run.experiment_name], ["Status", run.status.value],
        ["Prefect flow run", f"`{run.flow_run_id}`"], ["Started", run.start_time.isoformat(timespec="seconds")],
        ["Duration (s)", _duration(run)], ["Source", f"{source} {run.entrypoint or ''}"], ["Error", run.error],
    ]  # fmt: skip
    lines += _table(["", ""], [fact for fact in facts if fact[1] not in (None, "")])
    lines += _ui_links(summary)
    lines += ["## Parameters", ""] + (_table(["param", "value"], [[k, v] for k, v in run.params.items()]) if run.params else ["No parameters.", ""])
    lines += ["## Metrics", ""]
    lines += _table(["metric", "value"], [[k, v] for k, v in sorted(run.metrics.items())]) if run.metrics else ["No flow-level metrics.", ""]
    lines += ["## Task runs", ""]
    lines += _table(
        ["run", "status", "attempts", "duration (s)", "metrics"],
        [[c.name + (" (cached)" if c.tags.get("trackflow.cache_hit") else ""), c.status.value, c.attempts, _duration(c),
          _metrics_text(c.metrics)] for c in summary.children],
    ) if summary.children else ["No task runs.", ""]  # fmt: skip
    lines += ["## Datasets", ""] + _dataset_lines(summary)
    lines += ["## Models", ""]
    registered = _registrations(summary.graph)
    lines += _table(
        ["model", "run", "package", "training metrics", "registered as"],
        [[node.label, r.name, f"`runs:/{r.id}/{node.attributes.get('artifact_path', '')}`",
          _metrics_text(r.metrics, lambda k: k.startswith("training_")), ", ".join(registered.get(node.id, []))]
         for r, node in summary.models],
    ) if summary.models else ["No models.", ""]  # fmt: skip
    lines += ["## Notes and decisions", ""]
    lines += [f"- **{n.kind.value}** ({r.name}): {_cell(n.text)}" for r, n in summary.notes] or ["No notes."]
    lines += ["", "## Lineage", ""]
    lines += lineage_markdown(summary.graph) if summary.graph is not None else ["No lineage recorded.", ""]
    return "\n".join(lines) + "\n"


def _ui_links(summary: RunSummary) -> list[str]:
    """``trackflow ui: run page · compare with the previous run`` (nothing without TRACKFLOW_UI_URL)."""
    page = run_url(summary.run.id)
    if page is None:
        return []
    links = [f"[run page]({page})"]
    compare = compare_url([summary.previous_run_id, summary.run.id]) if summary.previous_run_id else None
    if compare:
        links.append(f"[compare with the previous run]({compare})")
    return ["trackflow ui: " + " · ".join(links), ""]


def _registrations(graph: LineageGraph | None) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for edge in graph.edges if graph is not None else ():
        if edge.relation == "registered_as" and edge.target in graph.nodes:  # type: ignore[union-attr]
            found.setdefault(edge.source, []).append(graph.nodes[edge.target].label)  # type: ignore[union-attr]
    return found


def metrics_rows(summary: RunSummary) -> list[dict[str, Any]]:
    """One table row per task run: name, status, attempts, duration, every metric (and its ui page, ``ui``)."""
    keys = sorted({k for child in summary.children for k in child.metrics})
    rows = []
    for child in summary.children:
        row: dict[str, Any] = {"run": child.name, "kind": child.kind, "status": child.status.value,
                               "attempts": child.attempts, "duration_s": _duration(child)}  # fmt: skip
        for key in keys:
            value = child.metrics.get(key)
            row[key] = None if value is None or (isinstance(value, float) and not math.isfinite(value)) else value
        page = run_url(child.id)
        if page is not None:
            row["ui"] = page
        rows.append(row)
    return rows


@dataclass(frozen=True)
class Publication:
    """The report and the table as published: each an artifact id, None (not published), or,
    in an async run, an awaitable resolving to the id."""

    report: Any = None
    table: Any = None

    @property
    def pending(self) -> list[Any]:
        """What still has to be awaited (async runs), the report first."""
        return [item for item in (self.report, self.table) if inspect.isawaitable(item)]


def publish_report(summary: RunSummary, *, flow_name: str, target: ArtifactTarget | None = None) -> Any:
    """Publish the markdown report (one API call): its artifact id, None, or (async run) an awaitable.

    ``target``: the run to publish for (default: the run executing here; pass it to
    publish from another thread).
    """
    return publish_markdown(render_markdown(summary, flow_name=flow_name), key=report_key(flow_name),
                            description=f"trackflow run {summary.run.id} ({summary.run.status.value})",
                            target=target)  # fmt: skip


def publish_metrics_table(summary: RunSummary, *, flow_name: str, target: ArtifactTarget | None = None) -> Any:
    """Publish the task-metrics table (one API call), as :func:`publish_report`."""
    return publish_table(metrics_rows(summary), key=table_key(flow_name),
                         description=f"Task-run metrics of trackflow run {summary.run.id}", target=target)  # fmt: skip


def publish_run_report(summary: RunSummary, *, flow_name: str) -> Publication:
    """Publish the report and the table (one API call each, on the run's Prefect client)."""
    return Publication(report=publish_report(summary, flow_name=flow_name),
                       table=publish_metrics_table(summary, flow_name=flow_name))  # fmt: skip
