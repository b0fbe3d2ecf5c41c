"""Lineage graphs: what a run, dataset, artifact or model version came from and led to."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from trackflow.exceptions import InvalidInputError
from trackflow.tracking.entities import LineageEdge
from trackflow.tracking.store.base import Store

__all__ = ["LineageNode", "LineageGraph", "LineageMixin", "normalize_ref"]

Direction = Literal["upstream", "downstream", "both"]
_RUN_ID = re.compile(r"^(?:run:)?([0-9a-f]{32})$")
_KINDS = ("run", "dataset", "artifact", "model", "deployment")
_RELATION = re.compile(r"^[a-z0-9_]{1,64}$")


def normalize_ref(ref: str) -> str:
    """Turn a user's reference into a node id.

    Accepts a run id, ``run:<id>``, ``dataset:<fingerprint>``, an artifact URI
    (``file://...``, ``memory://...`` or ``artifact:<uri>``), ``models:/name/version`` or
    ``model:name/version``, and ``deployment:<id>``.
    """
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInputError("A lineage reference must be a non-empty string.")
    ref = ref.strip()
    match = _RUN_ID.match(ref.replace("-", "") if len(ref) in (36, 40) else ref)
    if match:
        return f"run:{match.group(1)}"
    if ref.startswith("models:/"):
        parts = ref[len("models:/") :].split("/")
        if len(parts) != 2 or not parts[1].isdigit():
            raise InvalidInputError(f"Lineage needs a model version reference models:/<name>/<version>, got {ref!r}.")
        return f"model:{parts[0]}/{int(parts[1])}"
    kind = ref.split(":", 1)[0]
    if kind in _KINDS and ":" in ref:
        return ref
    if "://" in ref:
        return f"artifact:{ref}"
    raise InvalidInputError(
        f"Unknown lineage reference {ref!r}.",
        hint="Use a run id, dataset:<fingerprint>, an artifact URI or models:/<name>/<version>.",
    )


@dataclass(frozen=True)
class LineageNode:
    """A node of a lineage graph."""

    id: str
    kind: str
    label: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LineageGraph:
    """Nodes and directed edges around a root node."""

    root: str
    nodes: dict[str, LineageNode]
    edges: tuple[LineageEdge, ...]
    groups: dict[str, str] = field(default_factory=dict)
    """Hierarchy drawn as clusters, not edges: member node id -> group node id (its flow run)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description: root, nodes, edges."""
        return {
            "root": self.root,
            "nodes": [
                {"id": n.id, "kind": n.kind, "label": n.label, "attributes": n.attributes} for n in self.nodes.values()
            ],
            "edges": [
                {"source": e.source, "target": e.target, "relation": e.relation, "name": e.name} for e in self.edges
            ],
        }

    def to_svg(self) -> str:
        """The graph as a stand-alone SVG document (top-down layered layout, no network, no binaries)."""
        from trackflow.tracking.lineage_svg import render_svg

        return render_svg(self)

    def to_mermaid(self) -> str:
        """A mermaid ``graph LR`` (Prefect's UI renders it in markdown artifacts)."""
        ids = {node_id: f"n{i}" for i, node_id in enumerate(self.nodes)}
        shapes = {"dataset": ("[(", ")]"), "model": ("{{", "}}"), "artifact": ("[/", "/]"), "run": ("[", "]")}
        lines = ["graph LR"]
        for node_id, node in self.nodes.items():
            opening, closing = shapes.get(node.kind, ("(", ")"))
            label = _mermaid_text(f"{node.kind}: {node.label}")
            lines.append(f'    {ids[node_id]}{opening}"{label}"{closing}')
        for edge in self.edges:
            if edge.source in ids and edge.target in ids:
                lines.append(f"    {ids[edge.source]} -->|{_mermaid_text(edge.relation)}| {ids[edge.target]}")
        if self.root in ids:
            lines.append(f"    style {ids[self.root]} stroke-width:3px")
        return "\n".join(lines)

    def to_tree(self) -> str:
        """An indented text tree from the root, following edges both ways."""
        lines: list[str] = [self._describe(self.root)]
        seen = {self.root}

        def walk(node_id: str, depth: int) -> None:
            for edge in self.edges:
                if edge.source == node_id and edge.target not in seen:
                    other, arrow = edge.target, f"--{edge.relation}-->"
                elif edge.target == node_id and edge.source not in seen:
                    other, arrow = edge.source, f"<--{edge.relation}--"
                else:
                    continue
                seen.add(other)
                lines.append(f"{'  ' * depth}{arrow} {self._describe(other)}")
                walk(other, depth + 1)

        walk(self.root, 1)
        return "\n".join(lines)

    def _describe(self, node_id: str) -> str:
        node = self.nodes.get(node_id)
        return f"{node.kind} {node.label}" if node else node_id


def _mermaid_text(text: str) -> str:
    return re.sub(r'["<>|{}\[\]]', "'", text)[:80]


class LineageMixin:
    """Reading lineage graphs through the Client."""

    _store: Store

    def flush(self) -> None:  # provided by Client
        raise NotImplementedError

    def link_edges(self, edges: Iterable[tuple[str, str, str]], *, run_id: str | None = None) -> None:
        """Record lineage edges ``(source, target, relation)`` between any two references.

        References are normalized as in :meth:`lineage` (run ids, ``dataset:<fp>``, artifact
        URIs, ``models:/name/version`` ...); relations are short lowercase words such as
        ``part_of`` or ``cached_from``. An edge recorded twice is kept once.
        """
        from trackflow.tracking.entities import now_ms

        created = now_ms()
        rows = []
        for source, target, relation in edges:
            if not isinstance(relation, str) or not _RELATION.match(relation):
                raise InvalidInputError(f"Invalid lineage relation {relation!r}: use 1-64 characters of [a-z0-9_].")
            rows.append(
                {"source": normalize_ref(source), "target": normalize_ref(target), "relation": relation,
                 "run_id": run_id, "name": None, "created_at": created}
            )
        if not rows:
            return
        with self._store.transaction() as tx:  # edges have no foreign keys: queued runs may wait
            tx.create_edges(rows)

    def lineage(
        self, ref: str | Sequence[str], *, direction: Direction = "both", depth: int | None = None
    ) -> LineageGraph:
        """The graph upstream, downstream or both ways of ``ref`` (``depth`` hops at most).

        ``ref`` may also be a list of references: the graph around all of them, rooted at
        the first (one query per hop, however many references).
        """
        if direction not in ("upstream", "downstream", "both"):
            raise InvalidInputError(f"direction must be upstream, downstream or both, got {direction!r}.")
        if depth is not None and (not isinstance(depth, int) or depth < 1):
            raise InvalidInputError(f"depth must be a positive integer or None, got {depth!r}.")
        roots = [normalize_ref(r) for r in ([ref] if isinstance(ref, str) else list(ref))]
        if not roots:
            raise InvalidInputError("lineage needs at least one reference.")
        root = roots[0]
        self.flush()
        edges: dict[tuple[str, str, str], LineageEdge] = {}
        with self._store.transaction(write=False) as tx:
            for outgoing in _directions(direction):
                frontier, seen, hops = list(dict.fromkeys(roots)), set(roots), 0
                while frontier and (depth is None or hops < depth):
                    found = tx.read_edges(frontier, outgoing=outgoing)
                    frontier = []
                    for edge in found:
                        edges[(edge.source, edge.target, edge.relation)] = edge
                        nxt = edge.target if outgoing else edge.source
                        if nxt not in seen:
                            seen.add(nxt)
                            frontier.append(nxt)
                    hops += 1
            ordered_roots = list(dict.fromkeys(roots))
            node_ids = ordered_roots + sorted(
                {n for e in edges.values() for n in (e.source, e.target)} - set(ordered_roots)
            )
            nodes = _describe_nodes(tx, node_ids, edges.values())
        return LineageGraph(root=root, nodes=nodes, edges=tuple(edges.values()))


def _directions(direction: Direction) -> Iterable[bool]:
    if direction in ("downstream", "both"):
        yield True
    if direction in ("upstream", "both"):
        yield False


def _describe_nodes(tx: Any, node_ids: list[str], edges: Iterable[LineageEdge]) -> dict[str, LineageNode]:
    run_ids = [n.split(":", 1)[1] for n in node_ids if n.startswith("run:")]
    runs = {r.id: r for r in tx.read_runs(run_ids)}
    fingerprints = [n.split(":", 1)[1] for n in node_ids if n.startswith("dataset:")]
    datasets = tx.read_datasets_by_fingerprint(fingerprints)
    edge_names = {}
    for edge in edges:
        if edge.name:
            edge_names.setdefault(edge.target, edge.name)
            edge_names.setdefault(edge.source, edge.name)
    nodes: dict[str, LineageNode] = {}
    for node_id in node_ids:
        kind, _, key = node_id.partition(":")
        if kind == "run" and key in runs:
            run = runs[key]
            attrs = {"status": run.status.value, "experiment": run.experiment_name, "kind": run.kind}
            nodes[node_id] = LineageNode(node_id, "run", run.name, attrs)
        elif kind == "dataset" and key in datasets:
            ds = datasets[key]
            attrs = {"fingerprint": ds.fingerprint, "rows": ds.num_rows, "columns": ds.num_columns}
            nodes[node_id] = LineageNode(node_id, "dataset", edge_names.get(node_id, ds.name), attrs)
        elif kind == "artifact":
            nodes[node_id] = LineageNode(node_id, "artifact", edge_names.get(node_id, key.rsplit("/", 1)[-1]), {"uri": key})
        else:
            nodes[node_id] = LineageNode(node_id, kind, key, {})
    return nodes
