"""SVG rendering of lineage graphs: valid, escaped, layered top-down, clustered, bounded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from typing import Any

import pytest

from trackflow.tracking.entities import LineageEdge
from trackflow.tracking.lineage import LineageGraph, LineageNode
from trackflow.tracking.lineage_layout import MAX_NODES, Box, Layout, layout
from trackflow.tracking.lineage_svg import render_svg

SVG = "{http://www.w3.org/2000/svg}"
WHEN = datetime(2024, 1, 1, tzinfo=timezone.utc)
TASKS = ("load", "clean", "split", "train", "evaluate")


def graph(nodes: list[tuple[Any, ...]], edges: list[tuple[str, str, str]], groups: dict[str, str] | None = None,
          root: str | None = None) -> LineageGraph:
    """A graph from ``(id, kind, label[, attributes])`` tuples and ``(source, target, relation)`` edges."""
    built = {n[0]: LineageNode(n[0], n[1], n[2], n[3] if len(n) > 3 else {}) for n in nodes}
    return LineageGraph(
        root=root if root is not None else nodes[0][0],
        nodes=built,
        edges=tuple(LineageEdge(s, t, r, None, None, WHEN) for s, t, r in edges),
        groups=groups or {},
    )


def pipeline() -> LineageGraph:
    """A flow run (group) with five task runs, four datasets, a model, a version and a report."""
    nodes = [("run:flow", "run", "azure-elk", {"kind": "flow"})]
    nodes += [(f"run:{t}", "run", t, {"kind": "task"}) for t in TASKS]
    nodes += [("dataset:raw", "dataset", "raw.csv"), ("dataset:clean", "dataset", "clean"),
              ("dataset:train", "dataset", "train-set"), ("dataset:test", "dataset", "test-set"),
              ("model:churn", "model", "churn-classifier"), ("model:churn/3", "model_version", "churn v3"),
              ("artifact:file:///r.html", "artifact", "report.html")]
    edges = [("run:load", "dataset:raw", "produced"), ("dataset:raw", "run:clean", "input_to"),
             ("run:clean", "dataset:clean", "produced"), ("dataset:clean", "run:split", "input_to"),
             ("run:split", "dataset:train", "produced"), ("run:split", "dataset:test", "produced"),
             ("dataset:train", "run:train", "input_to"), ("run:train", "model:churn", "produced"),
             ("model:churn", "run:evaluate", "input_to"), ("dataset:test", "run:evaluate", "input_to"),
             ("run:evaluate", "artifact:file:///r.html", "produced"),
             ("model:churn", "model:churn/3", "registered_as")]
    edges += [(f"run:{t}", "run:flow", "part_of") for t in TASKS]
    return graph(nodes, edges, {f"run:{t}": "run:flow" for t in TASKS}, root="model:churn/3")


def two_flows() -> LineageGraph:
    """Two flow runs (one with a nested subflow and an edgeless task) joined by a model version."""
    nodes = [("f1", "run", "train-flow", {"kind": "flow"}), ("f2", "run", "deploy-flow", {"kind": "flow"}),
             ("sub", "run", "hyperopt", {"kind": "flow"}), ("t1", "run", "prep"), ("t2", "run", "fit"),
             ("s1", "run", "trial-1"), ("s2", "run", "trial-2"), ("t4", "run", "stage"), ("t5", "run", "deploy"),
             ("idle", "run", "cleanup"), ("d1", "dataset", "features"), ("mv", "model_version", "churn v4"),
             ("dep", "deployment", "churn-api")]
    edges = [("t1", "d1", "produced"), ("d1", "s1", "input_to"), ("d1", "s2", "input_to"), ("d1", "t2", "input_to"),
             ("s1", "t2", "best_of"), ("s2", "t2", "best_of"), ("t2", "mv", "registered"), ("mv", "t4", "input_to"),
             ("t4", "t5", "feeds"), ("t5", "dep", "deployed_as"), ("f1", "f2", "triggered")]
    groups = {"t1": "f1", "t2": "f1", "sub": "f1", "s1": "sub", "s2": "sub", "t4": "f2", "t5": "f2", "idle": "f2",
              "ghost": "f1", "t1x": "absent-group"}
    return graph(nodes, edges, groups, root="mv")


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def texts(root: ET.Element, group: str | None = None) -> list[str]:
    scope = root if group is None else root.find(f".//{SVG}g[@id='{group}']")
    assert scope is not None
    return ["".join(t.itertext()) for t in scope.iter(f"{SVG}text")]


def test_document_is_valid_svg_with_natural_size() -> None:
    svg = render_svg(pipeline())
    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    width, height = float(root.get("width")), float(root.get("height"))
    assert width > 0 and height > 0
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    assert svg.isascii()
    lowered = svg.lower()
    assert "<script" not in lowered and "href" not in lowered and "<style" not in lowered
    assert "http://" not in lowered.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_to_svg_delegates_to_render_svg() -> None:
    g = pipeline()
    assert g.to_svg() == render_svg(g)


def test_every_node_label_appears() -> None:
    g = pipeline()
    root = parse(render_svg(g))
    found = set(texts(root, "nodes"))
    assert all(node.label in found for node in g.nodes.values() if node.id != "run:flow")
    assert "flow run: azure-elk" in texts(root, "cluster-labels")  # the group, shown as its frame


def test_hostile_text_is_escaped() -> None:
    hostile = "<script>&\"'"
    g = graph([("run:a", "run", hostile), ("dataset:b", "dataset", "b\x00\x1b &amp;")],
              [("run:a", "dataset:b", "produced")], {"run:a": "<group>"})
    svg = render_svg(g)
    assert "<script>" not in svg
    root = parse(svg)
    assert not list(root.iter(f"{SVG}script")) and not list(root.iter("script"))
    assert hostile in texts(root, "nodes")
    assert any("&amp;" in t for t in texts(root, "nodes"))


def test_layers_run_top_down() -> None:
    g = pipeline()
    boxes = layout(g).nodes
    for edge in g.edges:
        if edge.relation != "part_of":
            assert boxes[edge.target].y >= boxes[edge.source].bottom, edge


@pytest.mark.parametrize("make", [pipeline, two_flows])
def test_node_boxes_do_not_overlap(make: Any) -> None:
    boxes = list(layout(make()).nodes.values())
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (a, b)


@pytest.mark.parametrize("make", [pipeline, two_flows])
def test_frames_hold_their_members_and_no_node_straddles_a_frame(make: Any) -> None:
    g = make()
    lay = layout(g)

    def inside(box: Box, frame: Box) -> bool:
        return frame.x <= box.x and box.right <= frame.right and frame.y <= box.y and box.bottom <= frame.bottom

    for member, group in g.groups.items():
        if member in lay.nodes and group in lay.frames:
            assert inside(lay.nodes[member], lay.frames[group])
    for frame in lay.frames.values():
        for box in lay.nodes.values():
            assert inside(box, frame) or not box.overlaps(frame), (box, frame)


def test_part_of_edges_are_not_drawn() -> None:
    g = pipeline()
    svg = render_svg(g)
    assert "part_of" not in svg
    assert all("part_of" not in r.label for r in layout(g).routes)


def test_group_is_a_frame_and_not_a_node_without_edges() -> None:
    lay = layout(pipeline())
    assert "run:flow" in lay.frames and "run:flow" not in lay.nodes
    root = parse(render_svg(pipeline()))
    assert "azure-elk" not in texts(root, "nodes")
    assert "flow run: azure-elk" in texts(root, "cluster-labels")


def test_group_with_edges_is_also_drawn_as_a_node() -> None:
    lay = layout(two_flows())
    assert {"f1", "f2"} <= set(lay.nodes) and {"f1", "f2", "sub"} <= set(lay.frames)
    assert "sub" not in lay.nodes
    assert list(lay.frames).index("f1") < list(lay.frames).index("sub")  # outer frames first
    assert "ghost" not in lay.nodes and "absent-group" not in lay.frames


def test_edgeless_member_stays_with_its_group() -> None:
    lay = layout(two_flows())
    frame = lay.frames["f2"]
    assert not lay.frames["f1"].overlaps(frame)
    assert lay.nodes["idle"].y == lay.nodes["t4"].y


def test_edges_to_missing_nodes_are_skipped_and_groups_may_be_missing() -> None:
    g = graph([("a", "run", "a"), ("b", "dataset", "b")], [("a", "b", "produced"), ("a", "zzz", "produced"),
                                                         ("yyy", "b", "input_to")],
              {"a": "nowhere", "missing": "b", "b": "b"})
    lay = layout(g)
    assert set(lay.nodes) == {"a", "b"} and len(lay.routes) == 1
    parse(render_svg(g))


def test_cycles_and_self_loops_terminate() -> None:
    g = graph([("a", "run", "a"), ("b", "dataset", "b"), ("c", "model", "c")],
              [("a", "b", "x"), ("b", "c", "y"), ("c", "a", "z"), ("c", "c", "again"), ("b", "a", "w")])
    lay = layout(g)
    assert set(lay.nodes) == {"a", "b", "c"}
    assert any(r.back for r in lay.routes) and any(r.loop for r in lay.routes)
    assert len(lay.routes) == 5
    parse(render_svg(g))


def test_large_graphs_keep_the_nodes_nearest_the_root() -> None:
    nodes = [(f"n{i:03d}", "dataset", f"ds-{i}") for i in range(100)]
    edges = [(f"n{i:03d}", f"n{i + 1:03d}", "derived") for i in range(99)]
    g = graph(nodes, edges, root="n000")
    lay = layout(g)
    assert len(lay.nodes) == MAX_NODES and lay.hidden == 100 - MAX_NODES
    assert set(lay.nodes) == {f"n{i:03d}" for i in range(MAX_NODES)}
    assert f"+{100 - MAX_NODES} more nodes not shown" in texts(parse(render_svg(g)))


def test_small_graphs_have_no_more_note() -> None:
    assert not any("more nodes" in t for t in texts(parse(render_svg(pipeline()))))


def test_lone_root_and_empty_graphs_render() -> None:
    g = graph([("run:a", "run", "only-me")], [])
    root = parse(render_svg(g))
    assert "only-me" in texts(root, "nodes")
    assert float(root.get("width")) > 0 and float(root.get("height")) > 0
    empty = LineageGraph(root="run:gone", nodes={}, edges=())
    assert parse(render_svg(empty)).tag == f"{SVG}svg"


def test_output_is_deterministic_across_hash_seeds() -> None:
    g = two_flows()
    first = render_svg(g)
    assert render_svg(two_flows()) == first
    data = json.dumps({"root": g.root, "groups": g.groups, "edges": [(e.source, e.target, e.relation) for e in g.edges],
                       "nodes": [(n.id, n.kind, n.label, n.attributes) for n in g.nodes.values()]})
    code = (
        "import json, sys; from datetime import datetime\n"
        "from trackflow.tracking.entities import LineageEdge\n"
        "from trackflow.tracking.lineage import LineageGraph, LineageNode\n"
        "d = json.loads(sys.stdin.read())\n"
        "nodes = {n[0]: LineageNode(*n) for n in d['nodes']}\n"
        "edges = tuple(LineageEdge(s, t, r, None, None, datetime(2024, 1, 1)) for s, t, r in d['edges'])\n"
        "sys.stdout.write(LineageGraph(d['root'], nodes, edges, d['groups']).to_svg())\n"
    )
    seed = "7" if os.environ.get("PYTHONHASHSEED") != "7" else "8"
    out = subprocess.run([sys.executable, "-c", code], input=data, env={**os.environ, "PYTHONHASHSEED": seed},
                         capture_output=True, text=True, check=True).stdout
    assert out == first


def test_legend_lists_exactly_the_kinds_present() -> None:
    assert texts(parse(render_svg(pipeline())), "legend") == ["run", "dataset", "model", "model version", "artifact"]
    only = graph([("d1", "dataset", "x"), ("d2", "dataset", "y"), ("o", "custom_kind", "z")],
                 [("d1", "d2", "derived"), ("d2", "o", "r")])
    assert texts(parse(render_svg(only)), "legend") == ["dataset", "custom kind"]


def test_long_labels_wrap_to_two_lines_and_truncate() -> None:
    label = "a-very-long-dataset-name " * 6
    g = graph([("d", "dataset", label)], [])
    lines = texts(parse(render_svg(g)), "nodes")
    assert lines[0] == "dataset" and len(lines) == 3
    assert lines[-1].endswith("\u2026") and all(len(line) <= 28 for line in lines)
    box = layout(g).nodes["d"]
    assert 120 <= box.width <= 28 * 7 + 60


def test_root_has_a_thicker_border_and_reasonable_size() -> None:
    svg = render_svg(pipeline())
    assert svg.count('stroke-width="2.8"') == 1
    assert len(svg.encode()) < 30_000


def test_layout_is_a_layout() -> None:
    lay = layout(pipeline())
    assert isinstance(lay, Layout) and lay.hidden == 0
    assert all(b.right <= lay.width and b.bottom <= lay.height for b in lay.nodes.values())
