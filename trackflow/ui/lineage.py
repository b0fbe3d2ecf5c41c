"""The lineage explorer: ``/lineage?ref=...`` (page) and ``/api/lineage?ref=...`` (JSON).

``ref`` is anything :meth:`Client.lineage` accepts (a run id, ``dataset:<fingerprint>``,
``runs:/<run>/<path>``, ``model:<name>/<version>``, ``models:/<name>/<version>``, an artifact
URI). ``direction`` (upstream / downstream / both), ``depth`` (hops, default 1: the page
expands one level per click) and ``scope`` (run / all; empty = the Client's default) are
passed through. Every node comes with the page it links to (``href``) and its explorer link.
"""

from __future__ import annotations

from typing import Any, Literal, cast
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from trackflow.exceptions import InvalidInputError
from trackflow.tracking.client import Client
from trackflow.tracking.lineage import LineageGraph, normalize_ref
from trackflow.ui.web import get_client, render

__all__ = ["router", "lineage_data", "node_href", "MAX_DEPTH"]

router = APIRouter()
MAX_DEPTH = 10
"""Deepest graph one request returns (the explorer asks for one level at a time)."""


def node_href(node_id: str, kind: str, attributes: dict[str, Any]) -> str | None:
    """The ui page of a lineage node: a run's page, a model version's page; None when it has none."""
    key = node_id.partition(":")[2]
    if kind == "run":
        return f"/runs/{key}"
    if kind == "model_version":
        name, _, version = key.rpartition("/")
        return f"/models/{quote(name, safe='')}/versions/{version}"
    if kind == "model" and attributes.get("run_id"):
        return f"/runs/{attributes['run_id']}"
    return None


def _depth(text: str | None) -> int | None:
    if text is None or text.strip() == "" or text == "all":
        return None
    try:
        depth = int(text)
    except ValueError:
        raise InvalidInputError(f"depth must be a whole number or 'all', got {text!r}.") from None
    if not 1 <= depth <= MAX_DEPTH:
        raise InvalidInputError(f"depth must be between 1 and {MAX_DEPTH}, got {depth}.")
    return depth


def lineage_data(
    client: Client, ref: str, *, direction: str = "both", depth: int | None = 1, scope: str | None = None,
    svg: bool = False,
) -> dict[str, Any]:
    """The graph around ``ref`` as JSON: root, nodes (with ``href`` / ``explore``), edges, groups.

    With ``svg`` the graph's static SVG drawing (:meth:`LineageGraph.to_svg`) comes along as ``svg``.
    """
    if direction not in ("upstream", "downstream", "both"):
        raise InvalidInputError(f"direction must be upstream, downstream or both, got {direction!r}.")
    if scope not in (None, "run", "all"):
        raise InvalidInputError(f"scope must be 'run' or 'all', got {scope!r}.")
    graph: LineageGraph = client.lineage(
        ref, direction=cast(Literal["upstream", "downstream", "both"], direction), depth=depth,
        scope=cast(Literal["run", "all"] | None, scope),
    )  # fmt: skip
    data = graph.to_dict()
    for node in data["nodes"]:
        node["href"] = node_href(node["id"], node["kind"], node["attributes"])
        node["explore"] = f"/lineage?ref={quote(node['id'], safe='')}"
    data.update(direction=direction, depth=depth, scope=scope)
    if svg:
        data["svg"] = graph.to_svg() if graph.drawn_edges() else None
    return data


@router.get("/api/lineage")
def api_lineage(
    ref: str = "", direction: str = "both", depth: str | None = "1", scope: str = "",
    client: Client = Depends(get_client),
) -> dict[str, Any]:
    """Nodes and edges ``depth`` hops (default 1) upstream / downstream / both ways of ``ref``."""
    return lineage_data(client, ref, direction=direction, depth=_depth(depth), scope=scope or None)


@router.get("/lineage", response_class=HTMLResponse)
def lineage_page(request: Request, ref: str = "", scope: str = "", client: Client = Depends(get_client)) -> HTMLResponse:
    """The explorer, starting from ``ref``: one level both ways, then expanded by clicks."""
    if not ref.strip():
        raise InvalidInputError(
            "The lineage explorer needs a starting point: /lineage?ref=<run id | dataset:... | models:/name/version>.",
            hint="Open it from a run, dataset or model version page.",
        )
    root = normalize_ref(ref)
    if scope not in ("", "run", "all"):
        raise InvalidInputError(f"scope must be 'run' or 'all', got {scope!r}.")
    data = lineage_data(client, root, direction="both", depth=1, scope=scope or None)
    return render(request, "lineage.html", {"title": "Lineage", "nav": "experiments", "data": data, "root": root,
                                            "scope": scope})  # fmt: skip
