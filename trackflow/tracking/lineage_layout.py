"""Where the parts of a lineage diagram go: node boxes, group frames and edge routes.

A simplified Sugiyama layout, top-down: back edges are reversed to break cycles, layers are
assigned by longest path, long edges get one dummy point per crossed layer, nodes are ordered
by barycenter sweeps (the members of a group kept side by side) and x coordinates come from
isotonic regression towards the neighbours' positions. Groups (a flow run and its task runs)
get frames around their members. Node sizes come from their (cleaned, wrapped) text, so the
text helpers the drawing shares live here too. Drawing is :mod:`trackflow.tracking.lineage_svg`.
"""

from __future__ import annotations

import re
import textwrap
import unicodedata
from bisect import bisect_right, insort
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate, pairwise
from typing import TYPE_CHECKING

from trackflow.tracking.entities import HIERARCHY

if TYPE_CHECKING:
    from trackflow.tracking.lineage import LineageGraph, LineageNode

__all__ = [
    "MARGIN", "MAX_NODES", "Box", "EdgeRoute", "Layout", "Point", "clean_text", "kind_text", "layout", "node_text",
    "text_width", "truncate",
]

MAX_NODES = 80
"""Nodes drawn at most: the root and the nodes nearest to it."""

Rows = list[list[str]]
Links = dict[str, list[str]]
Chains = dict[str, tuple[str, ...]]  # node -> the groups around it, outermost first
Sizes = dict[str, tuple[float, float]]
Point = tuple[float, float]

MARGIN = 20.0
"""Blank space around the drawing, frames included, in pixels."""

_MIN_W, _WRAP, _SWEEPS, _X_ITERATIONS = 120.0, 28, 6, 12
_GAP_X, _GAP_DUMMY, _DUMMY_W, _GAP_Y, _GAP_FRAME = 28.0, 12.0, 14.0, 50.0, 12.0
_PAD, _FRAME_HEAD = 12.0, 18.0  # a frame's padding around its members, and room for its label
_EXTRA_W = {"model": 24.0, "artifact": 16.0, "note": 10.0}
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in pixels; ``x, y`` is its top-left corner."""

    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        """The x of the right side."""
        return self.x + self.width

    @property
    def bottom(self) -> float:
        """The y of the bottom side."""
        return self.y + self.height

    @property
    def cx(self) -> float:
        """The x of the centre."""
        return self.x + self.width / 2

    def overlaps(self, other: Box, margin: float = 0.0) -> bool:
        """Whether the two boxes intersect (closer than ``margin`` counts as intersecting)."""
        return not (self.right + margin <= other.x or other.right + margin <= self.x
                    or self.bottom + margin <= other.y or other.bottom + margin <= self.y)


@dataclass(frozen=True)
class EdgeRoute:
    """An edge's path through ``points`` (arrow at the last): curves between layers alternate with
    straight runs through crossed layers; ``back``: drawn upwards (closes a cycle); ``loop``: a self-loop."""

    source: str
    target: str
    label: str
    points: tuple[Point, ...]
    back: bool = False
    loop: bool = False


@dataclass(frozen=True)
class Layout:
    """Where everything goes: node boxes, group frames (outermost first) and edge routes."""

    nodes: dict[str, Box]
    frames: dict[str, Box]
    routes: tuple[EdgeRoute, ...]
    width: float
    height: float
    hidden: int
    """Nodes of the graph left out beyond :data:`MAX_NODES`."""


def layout(graph: LineageGraph) -> Layout:
    """Lay ``graph`` out top-down; ``width`` and ``height`` cover the graph (not the legend)."""
    kept, chains, hidden = _select(graph)
    merged = _merge_edges(graph, {n: i for i, n in enumerate(kept)})
    links = [(s, t, label) for s, t, label in merged if s != t]
    _absorb(kept, links, chains)
    back, layer = _layering(kept, links)
    oriented = [(t, s) if i in back else (s, t) for i, (s, t, _) in enumerate(links)]
    linked = {n for s, t, _ in merged for n in (s, t)}
    group_top: dict[str, int] = {}
    for n in [n for n in kept if n in linked]:
        for g in chains[n]:
            group_top[g] = min(group_top.get(g, layer[n]), layer[n])
    for n in [n for n in kept if n not in linked]:  # members without edges join their group's top row
        layer[n] = next((group_top[g] for g in reversed(chains[n]) if g in group_top), layer[n])
    size: Sizes = {n: _node_size(graph.nodes[n]) for n in kept}
    pred: Links = {n: [] for n in kept}
    succ: Links = {n: [] for n in kept}
    order, paths = list(kept), []
    for i, (u, v) in enumerate(oriented):
        path, common = [u], _common(chains[u], chains[v])
        for lay in range(layer[u] + 1, layer[v]):  # one dummy per layer a long edge crosses
            dummy = f"\x00{i}:{lay}"
            layer[dummy], size[dummy], chains[dummy], pred[dummy], succ[dummy] = lay, (_DUMMY_W, 0.0), common, [], []
            order.append(dummy)
            path.append(dummy)
        path.append(v)
        for a, b in pairwise(path):
            succ[a].append(b)
            pred[b].append(a)
        paths.append(path)
    rows: Rows = [[] for _ in range(max(layer.values(), default=0) + 1)]
    for n in order:
        rows[layer[n]].append(n)
    rows = _order_rows([row for row in rows if row], pred, succ, chains)
    loops = {s: text_width(label, 5.6) + 48 for s, t, label in merged if s == t}
    xs = _place_x(rows, pred, succ, size, chains, loops)
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for r, row in enumerate(rows):
        for g in (g for n in row for g in chains[n]):
            first.setdefault(g, r)
            last[g] = r
    dx = MARGIN - min((xs[n] - size[n][0] / 2 - _PAD * len(chains[n]) for n in order), default=0.0)
    xs = {n: v + dx for n, v in xs.items()}  # the drawing starts at the margin, frames included
    row_top, row_h = {}, {}
    top = MARGIN + max(((_PAD + _FRAME_HEAD) * len(chains[n]) for n in (rows[0] if rows else ())), default=0.0)
    for r, row in enumerate(rows):
        if r:  # room between rows for the frames that close above and open below
            opening = max(sum(1 for g in chains[n] if first[g] == r) for n in row)
            closing = max(sum(1 for g in chains[n] if last[g] == r - 1) for n in rows[r - 1])
            top += _GAP_Y + (_PAD + _FRAME_HEAD) * opening + _PAD * closing
        height = max(size[n][1] for n in row)
        for n in row:
            row_top[n], row_h[n] = top, height
        top += height
    boxes = {n: Box(xs[n] - size[n][0] / 2, row_top[n] + (row_h[n] - size[n][1]) / 2, size[n][0],
                    size[n][1] or row_h[n]) for n in order}  # a dummy spans its row
    frames = _frames(chains, boxes)
    routes = _routes(links, back, paths, boxes, xs, row_top, row_h)
    for s, _, label in (m for m in merged if m[0] == m[1]):
        box = boxes[s]
        cy = box.y + box.height / 2
        pts = ((box.right, cy - 8), (box.right + 34, cy - 26), (box.right + 34, cy + 26), (box.right, cy + 8))
        routes.append(EdgeRoute(s, s, label, pts, loop=True))
    drawn = list(boxes.values()) + list(frames.values())
    right = [b.right for b in drawn] + [r.points[1][0] + text_width(r.label, 5.6) + 12 for r in routes if r.loop]
    width, height = max(right, default=0.0) + MARGIN, max((b.bottom for b in drawn), default=0.0) + MARGIN
    return Layout({n: boxes[n] for n in kept}, frames, tuple(routes), float(round(width)), float(round(height)),
                  hidden)


def node_text(node: LineageNode) -> tuple[str, list[str]]:
    """The kind line and the label, wrapped to at most two lines and truncated with an ellipsis."""
    label = (clean_text(node.label) or clean_text(node.id) or "?")[:200]
    lines = textwrap.wrap(label, _WRAP, break_long_words=True, break_on_hyphens=False) or [label]
    return kind_text(node), lines if len(lines) <= 2 else [lines[0], lines[1][: _WRAP - 1].rstrip() + "\u2026"]


def kind_text(node: LineageNode) -> str:
    """What a node is, in words: ``flow run``, ``task run``, ``model version`` ..."""
    if node.kind == "run":
        sub = node.attributes.get("kind") if isinstance(node.attributes, dict) else None
        return f"{sub} run" if sub in ("flow", "task") else "run"
    return truncate(clean_text(node.kind).replace("_", " "), 40)


def text_width(text: str, per_char: float) -> float:
    """Estimated width: ``per_char`` per character, twice that for wide (CJK) characters."""
    return per_char * sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def clean_text(text: object) -> str:
    """Text safe for XML 1.0 (no control characters or lone surrogates), whitespace collapsed."""
    return " ".join(_INVALID_XML.sub("\ufffd", str(text)).split())


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (at least 2), the last one an ellipsis."""
    return text if len(text) <= max(limit, 2) else text[: max(limit, 2) - 1].rstrip() + "\u2026"


def _select(graph: LineageGraph) -> tuple[list[str], Chains, int]:
    """Nodes drawn (graph order), their group chains, nodes left out. A group no drawn edge touches
    is only a frame; beyond MAX_NODES the nodes nearest the root (breadth-first, both ways) stay."""
    nodes = graph.nodes
    present = [e for e in graph.edges if e.source in nodes and e.target in nodes]
    touched = {n for e in present if e.relation != HIERARCHY for n in (e.source, e.target)}
    groups = {m: g for m, g in graph.groups.items() if m in nodes and isinstance(g, str) and m != g}
    group_ids = set(groups.values())
    with_members = {g for m, g in groups.items() if m not in group_ids}
    while any(m in with_members and g not in with_members for m, g in groups.items()):
        with_members |= {g for m, g in groups.items() if m in with_members}
    kept = [n for n in nodes if n in touched or n not in with_members]
    if len(kept) > MAX_NODES:
        index = {n: i for i, n in enumerate(nodes)}
        adjacent: Links = {}
        for a, b in [(e.source, e.target) for e in present] + list(groups.items()):
            adjacent.setdefault(a, []).append(b)
            adjacent.setdefault(b, []).append(a)
        seen, queue, rank = {graph.root}, deque([graph.root]), dict[str, int]()
        while queue:
            n = queue.popleft()
            rank[n] = len(rank)
            for m in sorted(set(adjacent.get(n, ())), key=lambda k: (index.get(k, len(index)), k)):
                if m not in seen:
                    seen.add(m)
                    queue.append(m)
        best = set(sorted(kept, key=lambda n: rank.get(n, len(nodes) + index[n]))[:MAX_NODES])
        kept = [n for n in kept if n in best]
    chains: Chains = {}
    for n in kept:
        chain, g = [], groups.get(n)
        while g is not None and g not in chain and g != n:
            chain.append(g)
            g = groups.get(g)
        chains[n] = tuple(reversed(chain))
    shown = set(kept) | {g for c in chains.values() for g in c}
    return kept, chains, sum(1 for n in nodes if n not in shown)


def _merge_edges(graph: LineageGraph, index: dict[str, int]) -> list[tuple[str, str, str]]:
    """Drawable edges (not ``part_of``, both ends drawn), one per pair, relations joined."""
    relations: dict[tuple[str, str], set[str]] = {}
    for e in graph.edges:
        if e.relation != HIERARCHY and e.source in index and e.target in index:
            relations.setdefault((e.source, e.target), set()).add(clean_text(e.relation))
    pairs = sorted(relations, key=lambda p: (index[p[0]], index[p[1]]))
    return [(s, t, ", ".join(sorted(relations[(s, t)]))) for s, t in pairs]


def _absorb(kept: list[str], links: list[tuple[str, str, str]], chains: Chains) -> None:
    """Lay a node out inside a group when what produced it (for a source: what uses it) is in it."""
    groups = {g for c in chains.values() for g in c}
    around: dict[tuple[str, bool], list[tuple[str, ...]]] = {}
    for s, t, _ in links:
        around.setdefault((t, True), []).append(chains[s])
        around.setdefault((s, False), []).append(chains[t])
    for n in kept:
        near = around.get((n, True)) or around.get((n, False))
        if not chains[n] and n not in groups and near and all(near):
            common = near[0]
            for c in near[1:]:
                common = _common(common, c)
            chains[n] = common


def _layering(nodes: list[str], links: list[tuple[str, str, str]]) -> tuple[set[int], dict[str, int]]:
    """Edges closing a cycle (depth-first from the sources) and layers: the longest path from the
    sources with those edges reversed, then each source just above its highest successor."""
    out: dict[str, list[tuple[str, int]]] = {n: [] for n in nodes}
    for i, (s, t, _) in enumerate(links):
        out[s].append((t, i))
    state: dict[str, int] = {}
    back: set[int] = set()

    def visit(node: str) -> None:  # recursion depth is bounded by MAX_NODES
        state[node] = 1
        for target, i in out[node]:
            if state.get(target) == 1:
                back.add(i)
            elif target not in state:
                visit(target)
        state[node] = 2

    targets = {t for _, t, _ in links}
    for start in [n for n in nodes if n not in targets] + nodes:
        if start not in state:
            visit(start)
    preds: Links = {n: [] for n in nodes}
    succs: Links = {n: [] for n in nodes}
    for i, (s, t, _) in enumerate(links):
        u, v = (t, s) if i in back else (s, t)
        succs[u].append(v)
        preds[v].append(u)
    pending, layer = {n: len(preds[n]) for n in nodes}, dict.fromkeys(nodes, 0)
    queue = deque(n for n in nodes if not pending[n])
    while queue:
        n = queue.popleft()
        for m in succs[n]:
            layer[m], pending[m] = max(layer[m], layer[n] + 1), pending[m] - 1
            if not pending[m]:
                queue.append(m)
    for n in nodes:
        if not preds[n] and succs[n]:
            layer[n] = min(layer[m] for m in succs[n]) - 1
    compact = {v: i for i, v in enumerate(sorted(set(layer.values())))}
    return back, {n: compact[layer[n]] for n in nodes}


def _order_rows(rows: Rows, pred: Links, succ: Links, chains: Chains) -> Rows:
    """Barycenter sweeps down and up; the order with the fewest crossings wins."""

    def sort(row: list[str], bary: dict[str, float]) -> list[str]:  # groups stay together
        first = {n: i for i, n in enumerate(row)}
        total: dict[str, float] = {}
        count: dict[str, int] = {}
        head: dict[str, int] = {}
        for n in row:
            for g in chains[n]:
                total[g], count[g] = total.get(g, 0.0) + bary[n], count.get(g, 0) + 1
                head.setdefault(g, first[n])
        return sorted(row, key=lambda n: (*((total[g] / count[g], head[g]) for g in chains[n]), (bary[n], first[n])))

    def sweep(row: list[str], ref: list[str], nbrs: Links) -> list[str]:
        pos, scale, bary = {n: i for i, n in enumerate(ref)}, len(ref) / max(len(row), 1), {}
        for i, n in enumerate(row):
            ps = [pos[m] for m in nbrs[n] if m in pos]
            bary[n] = sum(ps) / len(ps) if ps else i * scale
        return sort(row, bary)

    rows = [sort(row, {n: float(i) for i, n in enumerate(row)}) for row in rows]
    best, fewest = [list(r) for r in rows], _crossings(rows, succ)
    for _ in range(_SWEEPS if fewest else 0):
        for r in range(1, len(rows)):
            rows[r] = sweep(rows[r], rows[r - 1], pred)
        for r in range(len(rows) - 2, -1, -1):
            rows[r] = sweep(rows[r], rows[r + 1], succ)
        crossings = _crossings(rows, succ)
        if crossings < fewest:
            best, fewest = [list(r) for r in rows], crossings
        if not fewest:
            break
    return best


def _crossings(rows: Rows, succ: Links) -> int:
    total = 0
    for upper, lower in pairwise(rows):
        pos, seen = {n: i for i, n in enumerate(lower)}, list[int]()
        for _, b in sorted((i, pos[m]) for i, n in enumerate(upper) for m in succ[n] if m in pos):
            total += len(seen) - bisect_right(seen, b)
            insort(seen, b)
    return total


def _place_x(rows: Rows, pred: Links, succ: Links, size: Sizes, chains: Chains,
             loops: dict[str, float]) -> dict[str, float]:
    """Centre x of every node: pulled towards its neighbours, with order and spacing kept."""

    def sep(a: str, b: str) -> float:
        gap = _GAP_DUMMY if a.startswith("\x00") or b.startswith("\x00") else _GAP_X
        frames = len(set(chains[a]) ^ set(chains[b]))
        return (size[a][0] + size[b][0]) / 2 + gap + _PAD * frames + loops.get(a, 0.0)

    x: dict[str, float] = {}
    offsets = [list(accumulate((sep(a, b) for a, b in pairwise(row)), initial=0.0)) for row in rows]
    for row, offs in zip(rows, offsets, strict=True):
        x.update({n: o - offs[-1] / 2 for n, o in zip(row, offs, strict=False)})
    for it in range(_X_ITERATIONS):
        final, down = it >= _X_ITERATIONS - 2, it % 2 == 0
        for r in range(len(rows)) if down else range(len(rows) - 1, -1, -1):
            row, offs, weights = rows[r], offsets[r], []
            known: dict[int, float] = {}  # position in the row -> desired x, for nodes with neighbours
            for k, n in enumerate(row):
                ns = [x[m] for m in (pred[n] + succ[n] if final else pred[n] if down else succ[n])]
                if ns:
                    known[k] = sum(ns) / len(ns)
                weights.append((3.0 if n.startswith("\x00") else 1.0) if ns else 0.2)
            desired: list[float] = []
            for k in range(len(row)):  # nodes without neighbours keep close to the others
                if k in known:
                    desired.append(known[k])
                    continue
                j = max((i for i in known if i < k), default=min(known, default=None))
                desired.append(x[row[k]] if j is None else known[j] + offs[k] - offs[j])
            fitted = _isotonic([d - o for d, o in zip(desired, offs, strict=False)], weights)
            x.update({n: y + o for n, y, o in zip(row, fitted, offs, strict=False)})
    for row in rows:  # straighten near-vertical single links
        for i, n in enumerate(row):
            t = x[pred[n][0]] if len(pred[n]) == 1 else x[n]
            if abs(t - x[n]) < 6 and (i == 0 or t - x[row[i - 1]] >= sep(row[i - 1], n)) and (
                    i == len(row) - 1 or x[row[i + 1]] - t >= sep(n, row[i + 1])):
                x[n] = t
    for _ in range(6):
        if not _clear_frames(rows, x, size, chains, sep):
            break
    return x


def _isotonic(targets: list[float], weights: list[float]) -> list[float]:
    """Pool-adjacent-violators: the non-decreasing sequence closest to ``targets``."""
    blocks: list[list[float]] = []
    for t, w in zip(targets, weights, strict=True):
        blocks.append([t, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            (m2, w2, c2), (m1, w1, c1) = blocks.pop(), blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    return [m for m, _, c in blocks for _ in range(int(c))]


def _clear_frames(rows: Rows, x: dict[str, float], size: Sizes, chains: Chains,
                  sep: Callable[[str, str], float]) -> bool:
    """Push nodes that straddle the border of a frame they are not in out of it; moved any?"""
    extent: dict[str, tuple[float, float, int, int, tuple[str, ...]]] = {}
    for r, row in enumerate(rows):
        for n in row:
            for level, g in enumerate(chains[n]):
                pad = size[n][0] / 2 + _PAD * (len(chains[n]) - level)
                lo, hi, r0, _, outer = extent.get(g, (x[n] - pad, x[n] + pad, r, r, chains[n][: level + 1]))
                extent[g] = (min(lo, x[n] - pad), max(hi, x[n] + pad), r0, r, outer)
    moved = False
    for r, row in enumerate(rows):
        for g, (lo, hi, r0, r1, outer) in extent.items():
            inside = [i for i, n in enumerate(row) if g in chains[n]] if r0 <= r <= r1 else None
            for i, n in enumerate(row):
                if inside is None or i in inside or n.startswith("\x00"):
                    continue
                own = sum(1 for c in chains[n] if c not in outer)  # frames around n that g is not in
                clear, left, right = _GAP_FRAME + _PAD * own, x[n] - size[n][0] / 2, x[n] + size[n][0] / 2
                if right + clear <= lo or left - clear >= hi or (
                        not inside and not own and lo + 4 <= left and right <= hi - 4):
                    continue  # clear of the frame, or wholly inside it in a row without members
                moved = True
                if (i < inside[0]) if inside else (x[n] < (lo + hi) / 2):
                    x[n] = lo - clear - size[n][0] / 2
                    for j in range(i, 0, -1):
                        x[row[j - 1]] = min(x[row[j - 1]], x[row[j]] - sep(row[j - 1], row[j]))
                else:
                    x[n] = hi + clear + size[n][0] / 2
                    for j in range(i, len(row) - 1):
                        x[row[j + 1]] = max(x[row[j + 1]], x[row[j]] + sep(row[j], row[j + 1]))
    return moved


def _frames(chains: Chains, boxes: dict[str, Box]) -> dict[str, Box]:
    """One frame per group around its members (nested frames grow outwards), outermost first."""
    spans: dict[str, list[float]] = {}
    depth: dict[str, int] = {}
    for n, b in boxes.items():
        for level, g in enumerate(chains[n]):
            k = len(chains[n]) - level
            edge = [b.x - _PAD * k, b.y - (_PAD + _FRAME_HEAD) * k, b.right + _PAD * k, b.bottom + _PAD * k]
            s = spans.setdefault(g, edge)
            s[:] = [min(s[0], edge[0]), min(s[1], edge[1]), max(s[2], edge[2]), max(s[3], edge[3])]
            depth.setdefault(g, level)
    return {g: Box(s[0], s[1], s[2] - s[0], s[3] - s[1]) for g, s in sorted(spans.items(), key=lambda i: depth[i[0]])}


def _routes(links: list[tuple[str, str, str]], back: set[int], paths: Rows, boxes: dict[str, Box],
            xs: dict[str, float], row_top: dict[str, float], row_h: dict[str, float]) -> list[EdgeRoute]:
    """Edge paths; the edges leaving (entering) a node get ports spread along its bottom (top)."""
    ends: dict[tuple[str, int], list[tuple[float, int]]] = {}
    for i, path in enumerate(paths):
        ends.setdefault((path[0], 0), []).append((xs[path[1]], i))
        ends.setdefault((path[-1], 1), []).append((xs[path[-2]], i))
    ports: dict[tuple[int, int], float] = {}
    for (n, side), entries in ends.items():
        b, count = boxes[n], len(entries)
        span = min(b.width * 0.6, 22.0 * (count - 1))
        for k, (_, i) in enumerate(sorted(entries)):
            ports[(i, side)] = b.cx - span / 2 + span * k / (count - 1) if count > 1 else b.cx
    routes = []
    for i, path in enumerate(paths):
        points = [(ports[(i, 0)], boxes[path[0]].bottom)]
        for d in path[1:-1]:
            points += [(xs[d], row_top[d]), (xs[d], row_top[d] + row_h[d])]
        points.append((ports[(i, 1)], boxes[path[-1]].y))
        routes.append(EdgeRoute(*links[i], tuple(reversed(points)) if i in back else tuple(points), i in back))
    return routes


def _common(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return a[: next((i for i, (p, q) in enumerate(zip(a, b, strict=False)) if p != q), min(len(a), len(b)))]


def _node_size(node: LineageNode) -> tuple[float, float]:
    kind, lines = node_text(node)
    text = max([text_width(line, 7.0) for line in lines] + [text_width(kind, 6.0)])
    width = max(_MIN_W, text + 28 + _EXTRA_W.get(node.kind, 0.0))
    return float(round(width)), 32.0 + 15 * len(lines) + (12 if node.kind == "dataset" else 0)
