"""Build a :class:`~trackflow.registry.why_report.WhyReport` for one model version from the records.

What is read, and from where:

* the version and its predecessor (the highest lower version number) from the registry;
* the decisions: the version's stage transitions; a ``promote_if`` decision's compared
  values are in the transition's ``details["promotion"]`` (written by the register task);
* the metrics: :func:`~trackflow.tracking.rollup.model_metrics` of both versions' runs
  (the run's own metrics, then its flow run's evaluation);
* the notes: the lineage upstream of the pipeline (the top-level run of the version's run,
  its nested runs included) with ``scope="all"``: notes are ``note:<id>`` nodes linked to
  their run (``noted_in``) and evidence (``evidence``), exploration runs and notes reach the
  pipeline through ``informs`` edges. The notes of the pipeline's own runs are read
  directly as well, so a store without note nodes still answers;
* the datasets: :mod:`trackflow.registry.why_datasets`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from trackflow.exceptions import NotFoundError, TrackflowError
from trackflow.registry.entities import ModelVersion, StageTransition
from trackflow.registry.why_datasets import dataset_changes, pipeline_run_ids, training_datasets
from trackflow.registry.why_report import Decision, Evidence, MetricChange, WhyNote, WhyReport
from trackflow.tracking.entities import LineageEdge, LineageNode, Note, Run
from trackflow.tracking.lineage import node_kind
from trackflow.tracking.rollup import model_metrics, top_level_run

__all__ = ["build_why_report"]

_NOTE_LABEL = 80


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _decision(t: StageTransition) -> Decision:
    promotion = t.details.get("promotion") if isinstance(t.details, Mapping) else None
    decision = Decision(from_stage=t.from_stage.value if t.from_stage else None, to_stage=t.to_stage.value,
                        reason=t.reason, user=t.user, when=t.created_at, flow_run_id=t.flow_run_id)
    if not isinstance(promotion, Mapping) or "policy" not in promotion:
        return decision
    passed = promotion.get("passed")

    def text(key: str) -> str | None:
        value = promotion.get(key)
        return None if value is None else str(value)

    return replace(
        decision, policy=str(promotion["policy"]), passed=passed if isinstance(passed, bool) else None,
        metric=text("metric"), candidate_value=_float(promotion.get("candidate_value")),
        reference=text("reference"), reference_version=_int(promotion.get("reference_version")),
        reference_metric=text("reference_metric"), reference_value=_float(promotion.get("reference_value")),
        threshold=_float(promotion.get("threshold")), op=text("op"),
    )


def _metrics(client: Any, run_id: str | None, previous_run_id: str | None) -> tuple[MetricChange, ...]:
    def read(rid: str | None) -> dict[str, float]:
        if rid is None:
            return {}
        try:
            return model_metrics(client, rid)
        except NotFoundError:  # a deleted run
            return {}

    now, before = read(run_id), read(previous_run_id)
    return tuple(MetricChange(k, now.get(k), before.get(k)) for k in sorted(now))


def _upstream(client: Any, roots: list[str]) -> tuple[dict[str, LineageNode], list[LineageEdge]]:
    try:
        graph = client.lineage(roots, direction="upstream", scope="all")
    except TrackflowError:
        return {}, []
    return dict(graph.nodes), list(graph.edges)


class _NoteReader:
    """Notes, their runs and evidence, from the upstream graph (and the pipeline runs' own notes)."""

    def __init__(self, client: Any, nodes: dict[str, LineageNode], edges: list[LineageEdge], pipeline: set[str]) -> None:
        self.client, self.nodes, self.edges, self.pipeline = client, nodes, edges, pipeline
        self.informs = [e for e in edges if e.relation == "informs" and e.target.removeprefix("run:") in pipeline]
        self.informing = {e.source for e in self.informs}
        self.runs: dict[str, Run] = {}

    def _read_runs(self, run_ids: Iterable[str]) -> None:
        wanted = [r for r in dict.fromkeys(run_ids) if r and r not in self.runs]
        if wanted:
            self.runs.update((r.id, r) for r in self.client.get_runs(wanted))

    def notes(self) -> tuple[WhyNote, ...]:
        found: dict[int, Note] = {}
        for run_id in sorted(self.pipeline):
            found.update((n.id, n) for n in self.client.get_notes(run_id))
        for node_id in self.nodes:
            key = node_id.split(":", 1)[1] if node_id.startswith("note:") else ""
            if key.isdigit() and int(key) not in found:
                try:
                    found[int(key)] = self.client.get_note(int(key))
                except NotFoundError:  # deleted since the graph was read
                    continue
        cited = [ref for n in found.values() for ref in getattr(n, "evidence", ())]
        self._read_runs([n.run_id for n in found.values()] + [r.removeprefix("run:") for r in cited if r.startswith("run:")])
        notes = [self._note(n) for n in found.values()]
        return tuple(sorted(notes, key=lambda n: (n.created_at.timestamp() if n.created_at else 0.0, n.id)))

    def _note(self, note: Note) -> WhyNote:
        ref = f"note:{note.id}"
        run = self.runs.get(note.run_id)
        if note.run_id in self.pipeline:
            origin = "pipeline"
        elif ref in self.informing or f"run:{note.run_id}" in self.informing or (run is not None and run.kind == "exploration"):
            origin = "exploration"
        else:
            origin = "upstream"
        refs: tuple[str, ...] = getattr(note, "evidence", ())
        names: tuple[str, ...] = getattr(note, "evidence_names", ())
        evidence = tuple(self._evidence(r, names[i] if i < len(names) else "") for i, r in enumerate(refs))
        return WhyNote(
            id=note.id, ref=ref, kind=note.kind.value, text=note.text, created_at=note.created_at, run_id=note.run_id,
            run_name=run.name if run else None, run_kind=run.kind if run else None,
            experiment=run.experiment_name if run else None, origin=origin, evidence=evidence,
            informs=ref in self.informing,
        )

    def _evidence(self, ref: str, name: str) -> Evidence:
        node = self.nodes.get(ref)
        kind = node.kind if node else node_kind(ref)
        label = node.label if node else ref.split(":", 1)[-1]
        attrs = node.attributes if node else {}
        detail: str | None = None
        if kind == "dataset":
            rows, cols = attrs.get("rows"), attrs.get("columns")
            detail = f"{rows} rows x {cols} columns" if rows is not None else None
        elif kind == "run":
            run = self.runs.get(ref.removeprefix("run:"))
            label = run.name if run else label
            keys = [k.strip() for k in name.split(",") if k.strip()]
            values = [_cited_value(run, k) for k in keys]
            detail = ", ".join(values) or None
        elif kind == "note":
            detail = str(attrs.get("text") or label)[:_NOTE_LABEL]
        return Evidence(ref=ref, kind=kind, label=label, name=name or None, detail=detail)


def _cited_value(run: Run | None, key: str) -> str:
    """``metrics.auc = 0.91`` (or the param's value) as the run recorded it."""
    what, _, name = key.partition(".")
    values: Mapping[str, Any] = {}
    if run is not None:
        values = run.metrics if what == "metrics" else run.params if what == "params" else {}
    value = values.get(name)
    if isinstance(value, float):
        return f"{key} = {value:.6g}"
    return f"{key} = {value}" if value is not None else key


def _previous(versions: list[ModelVersion], number: int) -> ModelVersion | None:
    older = [v for v in versions if v.version < number]
    return max(older, key=lambda v: v.version) if older else None


def _top(client: Any, run_id: str | None) -> Run | None:
    if run_id is None:
        return None
    try:
        return top_level_run(client, run_id)
    except NotFoundError:
        return None


def build_why_report(client: Any, registry: Any, uri: str) -> WhyReport:
    """The :class:`WhyReport` of the version ``uri`` names (``models:/name/3``, ``@alias``, ``/production``)."""
    mv: ModelVersion = registry.resolve(uri)
    previous = _previous(registry.list_versions(mv.name), mv.version)
    top = _top(client, mv.run_id)
    run = None
    if mv.run_id is not None:
        found = client.get_runs([mv.run_id])
        run = found[0] if found else None
    pipeline = set(pipeline_run_ids(client, top.id)) if top is not None else set()
    roots = ([f"run:{top.id}"] if top is not None else []) + [mv.ref]
    nodes, edges = _upstream(client, roots)
    reader = _NoteReader(client, nodes, edges, pipeline)
    notes = reader.notes()
    prev_top = _top(client, previous.run_id) if previous is not None else None
    current_data = training_datasets(client, mv.run_id if run else None, top.id if top else None)
    previous_data = (training_datasets(client, previous.run_id, prev_top.id if prev_top else None)
                     if previous is not None else None)  # fmt: skip
    return WhyReport(
        name=mv.name, version=mv.version, stage=mv.stage.value, aliases=tuple(mv.aliases),
        run_id=mv.run_id, run_name=run.name if run else None,
        pipeline_run_id=top.id if top else None, pipeline_run_name=top.name if top else None,
        previous_version=previous.version if previous else None,
        decisions=tuple(_decision(t) for t in registry.history(mv.name, version=mv.version)),
        metrics=_metrics(client, mv.run_id if run else None, previous.run_id if previous else None),
        notes=notes,
        informed_by=tuple(dict.fromkeys(e.source for e in reader.informs)),
        datasets=dataset_changes(current_data, previous_data),
    )
