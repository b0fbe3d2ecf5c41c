"""Lineage graphs as stand-alone SVG documents, drawn in pure Python.

The geometry comes from :func:`trackflow.tracking.lineage_layout.layout`; this module draws it:
node shapes and colours, group frames and their labels, edges and their labels, the legend.
The output depends only on the graph (no set is iterated, no clock, no randomness), is pure
ASCII and has no scripts, external fonts or stylesheets, so it also works as a markdown
``data:`` image in Prefect's dashboard.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from trackflow.tracking.lineage_layout import (
    MARGIN,
    Box,
    EdgeRoute,
    Layout,
    Point,
    clean_text,
    kind_text,
    layout,
    node_text,
    text_width,
    truncate,
)

if TYPE_CHECKING:
    from trackflow.tracking.lineage import LineageGraph, LineageNode

__all__ = ["render_svg"]

_FONT = "Helvetica, Arial, sans-serif"
_STYLES = {  # kind -> (fill, stroke); the shapes are in _shape
    "run": ("#E3F2FD", "#1E88E5"), "dataset": ("#E8F5E9", "#43A047"), "model": ("#FFF3E0", "#EF6C00"),
    "model_version": ("#FCE4EC", "#C2185B"), "artifact": ("#F3E5F5", "#8E24AA"),
    "deployment": ("#E0F2F1", "#00897B"), "note": ("#FFFDE7", "#F9A825"),
}
_OTHER, _EDGE, _TEXT, _MUTED = ("#F5F5F5", "#757575"), "#78909C", "#263238", "#607D8B"


def render_svg(graph: LineageGraph) -> str:
    """The graph as a stand-alone SVG 1.1 document (pure ASCII, same graph, same text)."""
    lay = layout(graph)
    obstacles, frames, heads, paths, labels = list(lay.nodes.values()), [], [], [], []
    for group, frame in lay.frames.items():
        node = graph.nodes.get(group)
        text = truncate(f"{kind_text(node)}: {clean_text(node.label)}" if node else clean_text(group),
                        int((frame.width - 16) / 6.4))
        line = 'stroke-width="2.4"' if group == graph.root else 'stroke-width="1" stroke-dasharray="5 3"'
        frames.append(f'<rect {_xywh(frame)} rx="12" fill="#ECEFF1" fill-opacity="0.55" stroke="#90A4AE" {line}/>')
        tag = Box(frame.x + 6, frame.y + 3, text_width(text, 6.4) + 8, 16)
        heads.append(f'<rect {_xywh(tag)} rx="3" fill="#F5F7F8" fill-opacity="0.9"/>'
                     f'<text x="{_f(frame.x + 10)}" y="{_f(frame.y + 15)}">{_esc(text)}</text>')
        obstacles.append(tag)
    for route in lay.routes:
        dash = ' stroke-dasharray="5 3"' if route.back else ""
        paths.append(f'<path d="{_path_d(route)}"{dash} marker-end="url(#arrow)"/>')
        labels.append(_edge_label(route, obstacles, lay.width))
    nodes = [_node_svg(graph.nodes[n], box, n == graph.root) for n, box in lay.nodes.items()]
    legend, legend_w, legend_h = _legend(graph, lay)
    width, height = float(max(lay.width, round(legend_w + 2 * MARGIN))), lay.height + legend_h + MARGIN
    root = graph.nodes.get(graph.root)
    title = f"{kind_text(root)} {clean_text(root.label)}" if root else clean_text(graph.root)
    size = f'width="{_f(width)}" height="{_f(height)}"'
    lines = [
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" {size} viewBox="0 0 {_f(width)} {_f(height)}" '
        f'font-family="{_FONT}" font-size="12"><title>Lineage of {_esc(truncate(title, 200))}</title>'
        f'<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" '
        f'markerWidth="9" markerHeight="9" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{_EDGE}"/></marker>'
        f'</defs><rect x="0" y="0" {size} fill="#FFFFFF"/>',
        '<g id="clusters">', *frames, "</g>",
        f'<g id="edges" fill="none" stroke="{_EDGE}" stroke-width="1.4">', *paths, "</g>",
        f'<g id="cluster-labels" font-size="11" font-weight="bold" fill="#546E7A">{"".join(heads)}</g>',
        '<g id="nodes">', *nodes, "</g>",
        f'<g id="edge-labels" font-size="10" fill="{_MUTED}" text-anchor="middle">{"".join(labels)}</g>',
        *legend, "</svg>",
    ]
    return "\n".join(lines).encode("ascii", "xmlcharrefreplace").decode("ascii") + "\n"


def _node_svg(node: LineageNode, box: Box, is_root: bool) -> str:
    kind, lines = node_text(node)
    fill, stroke = _STYLES.get(node.kind, _OTHER)
    cap = 10.0 if node.kind == "dataset" else 0.0
    top = box.y + cap + (box.height - cap - 14 - 15 * len(lines)) / 2
    text = [f'<text x="{_f(box.cx)}" y="{_f(top + 10)}" font-size="10" fill="{_MUTED}">{_esc(kind)}</text>']
    weight = ' font-weight="bold"' if is_root else ""
    text += [f'<text x="{_f(box.cx)}" y="{_f(top + 26 + 15 * k)}" fill="{_TEXT}"{weight}>{_esc(line)}</text>'
             for k, line in enumerate(lines)]
    tip = _esc(truncate(f"{kind}: {clean_text(node.label)} ({clean_text(node.id)})", 300))
    shape = _shape(node.kind, box, fill, stroke, 2.8 if is_root else 1.3)
    return f'<g text-anchor="middle"><title>{tip}</title>{shape}{"".join(text)}</g>'


def _shape(kind: str, box: Box, fill: str, stroke: str, sw: float) -> str:
    """The outline of a node of ``kind``: its shape and colours tell the kinds apart."""
    paint = f'fill="{fill}" stroke="{stroke}" stroke-width="{sw}"'
    x, y, w, h, r, b = box.x, box.y, box.width, box.height, box.right, box.bottom
    if kind == "dataset":  # a cylinder
        ry = min(6.0, h / 4)
        arc = f"A{_f(w / 2)},{_f(ry)} 0 0 1"
        return (f'<path d="M{_f(x)},{_f(y + ry)} {arc} {_f(r)},{_f(y + ry)} V{_f(b - ry)} {arc} {_f(x)},'
                f'{_f(b - ry)} Z" {paint}/><ellipse cx="{_f(box.cx)}" cy="{_f(y + ry)}" rx="{_f(w / 2)}" '
                f'ry="{_f(ry)}" {paint}/>')
    if kind in ("model", "artifact"):  # a hexagon, a parallelogram
        k = min(14.0 if kind == "model" else 12.0, w / 4)
        pts = ([(x + k, y), (r - k, y), (r, y + h / 2), (r - k, b), (x + k, b), (x, y + h / 2)] if kind == "model"
               else [(x + k, y), (r, y), (r - k, b), (x, b)])
        return f'<polygon points="{" ".join(f"{_f(px)},{_f(py)}" for px, py in pts)}" {paint}/>'
    if kind == "model_version":  # a double border
        i = min(3.5, h / 5)
        return (f'<rect {_xywh(box)} rx="3" {paint}/><rect {_xywh(Box(x + i, y + i, w - 2 * i, h - 2 * i))} '
                f'rx="2" fill="none" stroke="{stroke}" stroke-width="1"/>')
    if kind == "note":  # a folded corner
        k = min(12.0, w / 3, h / 2)
        return (f'<path d="M{_f(x)},{_f(y)} H{_f(r - k)} L{_f(r)},{_f(y + k)} V{_f(b)} H{_f(x)} Z" {paint}/>'
                f'<path d="M{_f(r - k)},{_f(y)} V{_f(y + k)} H{_f(r)}" fill="{stroke}" fill-opacity="0.3" '
                f'stroke="{stroke}" stroke-width="1"/>')
    rx = {"run": _f(min(10.0, h / 3)), "deployment": "2"}.get(kind, "0")  # rounded for runs
    return f'<rect {_xywh(box)} rx="{rx}" {paint}/>'


def _path_d(route: EdgeRoute) -> str:
    pts = [f"{_f(px)},{_f(py)}" for px, py in route.points]
    if route.loop:
        return f"M{pts[0]} C{pts[1]} {pts[2]} {pts[3]}"
    d = [f"M{pts[0]}"]
    for k in range(1, len(pts)):
        (ax, ay), (bx, by) = route.points[k - 1], route.points[k]
        mid = _f((ay + by) / 2)
        d.append(f"C{_f(ax)},{mid} {_f(bx)},{mid} {pts[k]}" if k % 2 else f"L{pts[k]}")
    return " ".join(d)


def _edge_label(route: EdgeRoute, obstacles: list[Box], width: float) -> str:
    """The relation in a small white-backed label on the edge, clear of nodes and other labels."""
    w, h, pts = text_width(route.label, 5.6) + 8, 13.0, route.points
    if route.loop:
        candidates = [(pts[1][0] + 4 + w / 2, (pts[0][1] + pts[3][1]) / 2)]
    else:
        curves = [(pts[k - 1], pts[k]) for k in range(1, len(pts), 2)]
        curves = [curves[0], *curves[1:][::-1]] if route.back else curves
        candidates = [_bezier(a, b, t) for a, b in curves for t in (0.5, 0.3, 0.7, 0.15, 0.85)]
    cx, cy = next((c for c in candidates if not any(
        Box(c[0] - w / 2, c[1] - h / 2, w, h).overlaps(o, 2) for o in obstacles)), candidates[0])
    cx = min(max(cx, w / 2 + 2), width - w / 2 - 2)
    box = Box(cx - w / 2, cy - h / 2, w, h)
    obstacles.append(box)
    return (f'<rect {_xywh(box)} rx="3" fill="#FFFFFF" fill-opacity="0.9"/>'
            f'<text x="{_f(cx)}" y="{_f(box.y + 10)}">{_esc(route.label)}</text>')


def _bezier(a: Point, b: Point, t: float) -> Point:
    """A point of the curve drawn by :func:`_path_d` between ``a`` and ``b``."""
    mid, u = (a[1] + b[1]) / 2, 1 - t
    return ((u ** 3 + 3 * u * u * t) * a[0] + (3 * u * t * t + t ** 3) * b[0],
            u ** 3 * a[1] + (3 * u * u * t + 3 * u * t * t) * mid + t ** 3 * b[1])


def _legend(graph: LineageGraph, lay: Layout) -> tuple[list[str], float, float]:
    """The legend of the kinds drawn, and the "+N more" note: SVG lines, width, height."""
    present = {graph.nodes[n].kind for n in lay.nodes}
    kinds = [k for k in _STYLES if k in present] + sorted(present - set(_STYLES))
    top, x, limit = lay.height, MARGIN, max(lay.width - MARGIN, 600.0)
    out, y, widest = [f'<g id="legend" font-size="11" fill="{_TEXT}">'], top + 12, 0.0
    for kind in kinds:
        text = clean_text(kind).replace("_", " ")
        item = 54 + text_width(text, 6.4)
        if x > MARGIN and x + item > limit:
            x, y = MARGIN, y + 24
        out.append(_shape(kind, Box(x, y, 28, 16), *_STYLES.get(kind, _OTHER), 1.2))
        out.append(f'<text x="{_f(x + 36)}" y="{_f(y + 12)}">{_esc(text)}</text>')
        x += item
        widest = max(widest, x - MARGIN)
    right = max(lay.width - MARGIN, widest + MARGIN)
    out.insert(1, f'<line x1="{_f(MARGIN)}" y1="{_f(top)}" x2="{_f(right)}" y2="{_f(top)}" stroke="#CFD8DC"/>')
    out.append("</g>")
    y += 16
    if lay.hidden:
        y += 18
        out.append(f'<text id="more" x="{_f(MARGIN)}" y="{_f(y)}" font-size="11" font-style="italic" '
                   f'fill="{_MUTED}">+{lay.hidden} more nodes not shown</text>')
    return out, widest, y - lay.height


def _esc(text: str) -> str:
    return escape(text, {'"': "&quot;", "'": "&#39;"})


def _xywh(box: Box) -> str:
    return f'x="{_f(box.x)}" y="{_f(box.y)}" width="{_f(box.width)}" height="{_f(box.height)}"'


def _f(v: float) -> str:
    s = f"{v:.1f}"
    return s[:-2] if s.endswith(".0") else s
