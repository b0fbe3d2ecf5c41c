"""``trackflow lineage REF``: what a run, dataset, artifact or model version came from and led to.

``REF`` is a run id (or ``run:<id>``), ``dataset:<fingerprint>``, an artifact URI or
``models:/<name>/<version>``. ``--format tree`` prints an indented tree, ``mermaid`` a
``graph LR`` diagram (paste it into a markdown file or the Prefect UI), ``json`` the nodes
and edges.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Optional

import typer

__all__ = ["Direction", "LineageFormat", "lineage", "register"]


class LineageFormat(str, Enum):
    """How the graph is printed."""

    tree = "tree"
    mermaid = "mermaid"
    json = "json"


class Direction(str, Enum):
    """Which edges are followed from REF."""

    upstream = "upstream"
    downstream = "downstream"
    both = "both"


def lineage(
    ref: str = typer.Argument(..., help="Run id, dataset:<fingerprint>, artifact URI or models:/<name>/<version>."),
    direction: Direction = typer.Option(Direction.both, "--direction", "-d", help="upstream, downstream or both."),
    depth: Optional[int] = typer.Option(None, "--depth", "-n", min=1, help="Follow at most N hops (default: all)."),  # noqa: UP007, UP045 - typer needs Optional on 3.10
    fmt: LineageFormat = typer.Option(LineageFormat.tree, "--format", "-f", help="tree, mermaid or json."),
) -> None:
    """Show the lineage graph around REF."""
    from trackflow.tracking.client import Client

    graph = Client().lineage(ref, direction=direction.value, depth=depth)
    if fmt is LineageFormat.json:
        typer.echo(json.dumps(graph.to_dict(), indent=2, default=str))
    elif fmt is LineageFormat.mermaid:
        typer.echo(graph.to_mermaid())
    else:
        typer.echo(graph.to_tree())


def register(app: typer.Typer) -> None:
    """Add the ``lineage`` command to the ``trackflow`` app."""
    app.command("lineage")(lineage)
