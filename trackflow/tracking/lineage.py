"""Lineage graphs: what a run, dataset, model or model version came from and led to.

Node ids: ``run:<id>``, ``dataset:<fingerprint>``, ``note:<id>`` (a note, see
:mod:`trackflow.tracking.notes`), ``model:runs:/<run id>/<path>`` (a
model package a run logged: one node, its files are not nodes), ``model:<name>/<version>``
(a registered version, kind ``model_version``), ``artifact:<uri>``, ``deployment:<id>``.
Hierarchy (a task run is part of its flow run) is not an edge of the graph but a group:
``LineageGraph.groups`` maps a run to the flow run it belongs to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from trackflow.exceptions import InvalidInputError
from trackflow.tracking.entities import HIERARCHY, LineageEdge, LineageNode, Run
from trackflow.tracking.store.base import TrackingStore, TrackingTransaction

__all__ = ["LineageNode", "LineageGraph", "LineageMixin", "model_ref", "node_kind", "normalize_ref"]

Direction = Literal["upstream", "downstream", "both"]
Scope = Literal["run", "all"]
_RUN_ID = re.compile(r"^(?:run:)?([0-9a-f]{32})$")
_KINDS = ("run", "dataset", "artifact", "model", "deployment", "note")
_RELATION = re.compile(r"^[a-z0-9_]{1,64}$")
_RUNS_URI = re.compile(r"^runs:/([0-9a-f]{32})/(.+)$")


def model_ref(run_id: str, path: str) -> str:
    """The lineage node of the model package a run logged at ``path``."""
    return f"model:runs:/{run_id}/{path.strip('/')}"


def node_kind(node_id: str) -> str:
    """The kind of a node from its id (``model:runs:/...`` is a ``model``, ``model:name/v`` a ``model_version``)."""
    kind, _, key = node_id.partition(":")
    if kind == "model":
        return "model" if key.startswith("runs:/") else "model_version"
    return kind


def normalize_ref(ref: str) -> str:
    """Turn a user's reference into a node id.

    Accepts a run id, ``run:<id>``, ``dataset:<fingerprint>``, ``runs:/<run id>/<path>``
    (a logged model package), an artifact URI (``file://...``, ``memory://...`` or
    ``artifact:<uri>``), ``models:/name/version`` or ``model:name/version``, and
    ``deployment:<id>``.
    """
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInputError("A lineage reference must be a non-empty string.")
    ref = ref.strip()
    match = _RUN_ID.match(ref.replace("-", "") if len(ref) in (36, 40) else ref)
    if match:
        return f"run:{match.group(1)}"
    runs_uri = _RUNS_URI.match(ref)
    if runs_uri:
        return model_ref(runs_uri.group(1), runs_uri.group(2))
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
        hint="Use a run id, dataset:<fingerprint>, runs:/<run id>/<path>, an artifact URI or models:/<name>/<version>.",
    )


@dataclass(frozen=True)
class LineageGraph:
    """Nodes and directed edges around a root node."""

    root: str
    nodes: dict[str, LineageNode]
    edges: tuple[LineageEdge, ...]
    groups: dict[str, str] = field(default_factory=dict)
    """Hierarchy drawn as clusters, not edges: member node id -> group node id (its flow run)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description: root, nodes, edges, groups."""
        return {
            "root": self.root,
            "nodes": [
                {"id": n.id, "kind": n.kind, "label": n.label, "attributes": n.attributes} for n in self.nodes.values()
            ],
            "edges": [
                {"source": e.source, "target": e.target, "relation": e.relation, "name": e.name} for e in self.edges
            ],
            "groups": dict(self.groups),
        }

    def to_svg(self) -> str:
        """The graph as a stand-alone SVG document (top-down layered layout, no network, no binaries)."""
        from trackflow.tracking.lineage_svg import render_svg

        return render_svg(self)

    def to_mermaid(self) -> str:
        """A mermaid ``graph TD``; groups (a flow run's task runs) become subgraphs."""
        ids = {node_id: f"n{i}" for i, node_id in enumerate(self.nodes)}
        shapes = {"dataset": ("[(", ")]"), "model": ("{{", "}}"), "model_version": ("[[", "]]"),
                  "artifact": ("[/", "/]"), "run": ("(", ")"), "note": (">", "]")}  # fmt: skip
        drawn = self.drawn_edges()
        touched = {n for e in drawn for n in (e.source, e.target)}
        if self.root not in self.groups.values():
            touched.add(self.root)  # a root that is a group is drawn as its frame
        lines = ["graph TD"]

        def node_line(node_id: str, indent: str) -> str:
            node = self.nodes[node_id]
            opening, closing = shapes.get(node.kind, ("[", "]"))
            return f'{indent}{ids[node_id]}{opening}"{_mermaid_text(f"{node.kind}: {node.label}")}"{closing}'

        members: dict[str, list[str]] = {}
        for member, group in self.groups.items():
            if member in ids and group in ids:
                members.setdefault(group, []).append(member)
        for node_id in self.nodes:
            if node_id in self.groups and self.groups[node_id] in members:
                continue  # drawn inside its group
            if node_id in members:
                lines.append(f'    subgraph g{ids[node_id]}["{_mermaid_text("flow run: " + self.nodes[node_id].label)}"]')
                if node_id in touched:
                    lines.append(node_line(node_id, "        "))
                lines += [node_line(m, "        ") for m in members[node_id]]
                lines.append("    end")
            elif node_id in touched:
                lines.append(node_line(node_id, "    "))
        for edge in drawn:
            lines.append(f"    {ids[edge.source]} -->|{_mermaid_text(edge.relation)}| {ids[edge.target]}")
        if self.root in touched:
            lines.append(f"    style {ids[self.root]} stroke-width:3px")
        return "\n".join(lines)

    def drawn_edges(self) -> list[LineageEdge]:
        """The edges a diagram draws: between known nodes, hierarchy left to the groups."""
        return [e for e in self.edges if e.relation != HIERARCHY and e.source in self.nodes and e.target in self.nodes]

    def to_tree(self) -> str:
        """An indented text tree from the root, following edges both ways; a flow run lists
        the runs it contains (``--contains-->``) first. Every edge is printed once; a node met
        again is marked ``(above)`` instead of being expanded twice."""
        lines: list[str] = [self._describe(self.root)]
        seen = {self.root}
        pending = list(self.drawn_edges())
        members: dict[str, list[str]] = {}
        for member, group in self.groups.items():
            members.setdefault(group, []).append(member)

        def walk(node_id: str, depth: int) -> None:
            contained = [m for m in members.get(node_id, []) if m not in seen]
            seen.update(contained)  # listed here, before any edge can reach them
            for member in sorted(contained, key=lambda m: str(self.nodes[m].attributes.get("start_time", m))):
                lines.append(f"{'  ' * depth}--contains--> {self._describe(member)}")
                walk(member, depth + 1)
            for edge in [e for e in pending if node_id in (e.source, e.target)]:
                if edge not in pending:
                    continue  # printed further down this walk
                pending.remove(edge)
                outgoing = edge.source == node_id
                other = edge.target if outgoing else edge.source
                arrow = f"--{edge.relation}-->" if outgoing else f"<--{edge.relation}--"
                again = other in seen
                lines.append(f"{'  ' * depth}{arrow} {self._describe(other)}{' (above)' if again else ''}")
                if not again:
                    seen.add(other)
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

    _store: TrackingStore

    def flush(self) -> None:  # provided by Client
        raise NotImplementedError

    def link_edges(self, edges: Iterable[tuple[str, str, str]], run_id: str | None = None) -> None:
        """Record lineage edges ``(source, target, relation)`` between any two references.

        References are normalized as in :meth:`lineage` (run ids, ``dataset:<fp>``, artifact
        URIs, ``models:/name/version`` ...); relations are short lowercase words such as
        ``part_of`` or ``cached_from``. ``run_id`` is the run that records them (what
        ``scope="run"`` graphs keep). An edge recorded twice is kept once.
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
        self,
        ref: str | Sequence[str],
        *,
        direction: Direction = "both",
        depth: int | None = None,
        scope: Scope | None = None,
    ) -> LineageGraph:
        """The graph upstream, downstream or both ways of ``ref`` (``depth`` hops at most).

        ``ref`` may also be a list of references: the graph around all of them, rooted at
        the first. A run's graph starts from the run and the runs nested in it (a flow
        run's task runs). ``scope="run"`` keeps what the flow run holding the root and its
        tasks recorded; ``scope="all"`` also follows into other runs that used the same
        content (same dataset fingerprint, same model). The default is ``run`` when the
        root is a flow run and ``all`` otherwise. Task runs are grouped under their flow
        run (``LineageGraph.groups``) instead of ``part_of`` edges.
        """
        if direction not in ("upstream", "downstream", "both"):
            raise InvalidInputError(f"direction must be upstream, downstream or both, got {direction!r}.")
        if depth is not None and (not isinstance(depth, int) or depth < 1):
            raise InvalidInputError(f"depth must be a positive integer or None, got {depth!r}.")
        if scope not in (None, "run", "all"):
            raise InvalidInputError(f"scope must be 'run' or 'all', got {scope!r}.")
        roots = list(dict.fromkeys(normalize_ref(r) for r in ([ref] if isinstance(ref, str) else list(ref))))
        if not roots:
            raise InvalidInputError("lineage needs at least one reference.")
        self.flush()
        with self._store.transaction(write=False) as tx:
            runs = _RunCache(tx)
            root_runs = runs.get_many(_run_ids(roots))
            if scope is None:
                first = root_runs.get(_run_ids(roots[:1])[0]) if roots[0].startswith("run:") else None
                scope = "run" if first is not None and first.kind == "flow" else "all"
            seeds = list(dict.fromkeys([*roots, *(f"run:{d}" for r in root_runs for d in runs.descendants(r))]))
            allowed = _scope_runs(tx, runs, roots[0]) if scope == "run" else None
            edges = _traverse(tx, seeds, direction, depth, allowed)
            node_ids = list(dict.fromkeys([*roots, *sorted({n for e in edges for n in (e.source, e.target)} - set(roots))]))
            runs.get_many(_run_ids(node_ids) + _model_run_ids(node_ids))
            groups = {n: f"run:{runs.known[k].parent_run_id}" for n, k in _run_keys(node_ids)
                      if k in runs.known and runs.known[k].parent_run_id}  # fmt: skip
            runs.get_many([g.split(":", 1)[1] for g in groups.values()])
            groups = {m: g for m, g in groups.items() if g.split(":", 1)[1] in runs.known}
            node_ids += [g for g in dict.fromkeys(groups.values()) if g not in node_ids]
            nodes = _describe_nodes(tx, node_ids, edges, runs.known)
        return LineageGraph(root=roots[0], nodes=nodes, edges=tuple(edges), groups=groups)


class _RunCache:
    """Runs read once per lineage query."""

    def __init__(self, tx: TrackingTransaction) -> None:
        self._tx = tx
        self.known: dict[str, Run] = {}
        self._descendants: dict[str, list[str]] = {}

    def get_many(self, run_ids: Iterable[str]) -> dict[str, Run]:
        wanted = list(dict.fromkeys(run_ids))
        missing = [r for r in wanted if r not in self.known]
        if missing:
            self.known.update((r.id, r) for r in self._tx.read_runs(missing))
        return {r: self.known[r] for r in wanted if r in self.known}

    def descendants(self, run_id: str) -> list[str]:
        # one query per nesting level (not per run); a flow-run root's nested runs are needed
        # twice (seeds and scope): read them once
        if run_id not in self._descendants:
            self._descendants[run_id] = self._tx.read_descendant_run_ids([run_id])
        return self._descendants[run_id]

    def top(self, run_id: str) -> str:
        current = run_id
        for _ in range(100):  # nesting is shallow; a bound guards against a corrupt cycle
            run = self.get_many([current]).get(current)
            if run is None or not run.parent_run_id:
                return current
            current = run.parent_run_id
        return current


def _run_ids(node_ids: Iterable[str]) -> list[str]:
    return [key for _node, key in _run_keys(node_ids)]


def _run_keys(node_ids: Iterable[str]) -> list[tuple[str, str]]:
    return [(n, n.split(":", 1)[1]) for n in node_ids if n.startswith("run:")]


def _model_run_ids(node_ids: Iterable[str]) -> list[str]:
    return [m.group(1) for n in node_ids if (m := _RUNS_URI.match(n.removeprefix("model:")))]


def _scope_runs(tx: TrackingTransaction, runs: _RunCache, root: str) -> set[str | None]:
    """The runs whose records a ``scope="run"`` graph keeps: the flow run holding ``root``, nested runs included."""
    anchor: str | None = root.split(":", 1)[1] if root.startswith("run:") else None
    if anchor is None:
        touching = tx.read_edges([root], outgoing=False) + tx.read_edges([root], outgoing=True)
        anchor = next((e.run_id for e in touching if e.run_id), None)
    if anchor is None:
        return {None}
    top = runs.top(anchor)
    return {top, *runs.descendants(top)}


def _traverse(
    tx: TrackingTransaction, seeds: list[str], direction: Direction, depth: int | None, allowed: set[str | None] | None
) -> list[LineageEdge]:
    edges: dict[tuple[str, str, str], LineageEdge] = {}
    for outgoing in _directions(direction):
        frontier, seen, hops = list(seeds), set(seeds), 0
        while frontier and (depth is None or hops < depth):
            found = tx.read_edges(frontier, outgoing=outgoing)
            frontier = []
            for edge in found:
                if edge.relation == HIERARCHY or (allowed is not None and edge.run_id not in allowed):
                    continue
                edges[(edge.source, edge.target, edge.relation)] = edge
                nxt = edge.target if outgoing else edge.source
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
            hops += 1
    return list(edges.values())


def _directions(direction: Direction) -> Iterable[bool]:
    if direction in ("downstream", "both"):
        yield True
    if direction in ("upstream", "both"):
        yield False


def _short_fingerprint(fingerprint: str) -> str:
    return fingerprint.split(":", 1)[-1][:8]


def _describe_nodes(
    tx: TrackingTransaction, node_ids: list[str], edges: Iterable[LineageEdge], runs: dict[str, Run]
) -> dict[str, LineageNode]:
    """Label every node the same way wherever the graph starts."""
    fingerprints = [n.split(":", 1)[1] for n in node_ids if n.startswith("dataset:")]
    datasets = tx.read_datasets_by_fingerprint(fingerprints)
    recorded = tx.read_nodes([n for n in node_ids if n.startswith("model:runs:/")])
    artifact_names = {e.target: e.name for e in edges if e.name and e.target.startswith("artifact:")}
    notes = tx.read_notes_by_id([int(n[5:]) for n in node_ids if n.startswith("note:") and n[5:].isdigit()])
    nodes: dict[str, LineageNode] = {}
    for node_id in node_ids:
        kind, _, key = node_id.partition(":")
        if kind == "run" and key in runs:
            run = runs[key]
            attrs: dict[str, Any] = {"status": run.status.value, "experiment": run.experiment_name, "kind": run.kind,
                     "parent_run_id": run.parent_run_id, "start_time": run.start_time.isoformat()}  # fmt: skip
            nodes[node_id] = LineageNode(node_id, "run", run.name, attrs)
        elif kind == "dataset" and key in datasets:
            ds = datasets[key]
            attrs = {"fingerprint": ds.fingerprint, "name": ds.name, "rows": ds.num_rows, "columns": ds.num_columns}
            nodes[node_id] = LineageNode(node_id, "dataset", f"{ds.name} ({_short_fingerprint(ds.fingerprint)})", attrs)
        elif node_kind(node_id) == "model":
            nodes[node_id] = _model_node(node_id, recorded.get(node_id), runs)
        elif node_kind(node_id) == "model_version":
            name, _, version = key.rpartition("/")
            nodes[node_id] = LineageNode(node_id, "model_version", f"{name} v{version}", {"name": name, "version": version})
        elif kind == "note" and key.isdigit() and int(key) in notes:
            note = notes[int(key)]
            attrs = {"kind": note.kind.value, "run_id": note.run_id, "created_at": note.created_at.isoformat(),
                     "text": note.text}
            nodes[node_id] = LineageNode(node_id, "note", note.text[:80], attrs)
        elif kind == "artifact":
            label = artifact_names.get(node_id) or key.rsplit("/", 1)[-1]
            nodes[node_id] = LineageNode(node_id, "artifact", label, {"uri": key})
        else:
            nodes[node_id] = LineageNode(node_id, kind, key, {})
    return nodes


def _model_node(node_id: str, recorded: LineageNode | None, runs: dict[str, Run]) -> LineageNode:
    match = _RUNS_URI.match(node_id.removeprefix("model:"))
    run_id, path = (match.group(1), match.group(2)) if match else ("", node_id)
    run = runs.get(run_id)
    attrs = {**(recorded.attributes if recorded else {}), "run_id": run_id, "artifact_path": path}
    what = recorded.label if recorded else path
    return LineageNode(node_id, "model", f"{what} ({run.name})" if run else what, attrs)
