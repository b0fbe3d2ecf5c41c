"""Lineage diagrams for markdown artifacts that render in both of Prefect's UIs.

Prefect's older UI (where the "View at .../runs/flow-run/<id>" link Prefect logs leads)
shows fenced mermaid as raw text and strips inline ``<svg>``, but both UIs render a
markdown image whose source is a ``data:image/svg+xml;base64,`` URI. So the diagram is
the graph's server-side SVG as such an image, with the mermaid source kept below it in a
collapsed ``<details>`` block for those who want to paste it elsewhere.
"""

from __future__ import annotations

import base64

from trackflow.tracking.lineage import LineageGraph

__all__ = ["lineage_markdown", "svg_data_uri"]


def svg_data_uri(svg: str) -> str:
    """A ``data:image/svg+xml;base64,...`` URI of an SVG document."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def lineage_markdown(graph: LineageGraph, *, title: str = "lineage") -> list[str]:
    """Markdown lines: the graph as an SVG image, then its mermaid source, collapsed."""
    if not graph.drawn_edges():
        return ["No lineage recorded.", ""]
    return [
        f"![{title}]({svg_data_uri(graph.to_svg())})",
        "",
        "<details><summary>Mermaid source</summary>",
        "",
        "```mermaid",
        graph.to_mermaid(),
        "```",
        "",
        "</details>",
        "",
    ]
