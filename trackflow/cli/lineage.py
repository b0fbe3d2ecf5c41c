"""``trackflow lineage REF``: what a run, dataset, artifact or model version came from and led to.

``REF`` is a run id (or ``run:<id>``), ``dataset:<fingerprint>``, ``runs:/<run id>/<path>``
(a logged model), an artifact URI or ``models:/<name>/<version>``. ``--format tree`` prints
an indented tree, ``mermaid`` a ``graph TD`` diagram (paste it into a markdown file),
``svg`` a stand-alone SVG image (``> graph.svg``), ``json`` the nodes, edges and groups.
``--scope run`` keeps what the flow run holding REF recorded (the default when REF is a
flow run), ``--scope all`` also follows into other runs that used the same content.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Optional

import typer

__all__ = ["Direction", "LineageFormat", "Scope", "lineage", "register"]


class LineageFormat(str, Enum):
    """How the graph is printed."""

    tree = "tree"
    mermaid = "mermaid"
    svg = "svg"
    json = "json"


class Scope(str, Enum):
    """Which runs' records the graph keeps."""

    run = "run"
    all = "all"


class Direction(str, Enum):
    """Which edges are followed from REF."""

    upstream = "upstream"
    downstream = "downstream"
    both = "both"


def lineage(
    ref: str = typer.Argument(..., help="Run id, dataset:<fingerprint>, runs:/<run id>/<path>, artifact URI or models:/<name>/<version>."),
    direction: Direction = typer.Option(Direction.both, "--direction", "-d", help="upstream, downstream or both."),
    depth: Optional[int] = typer.Option(None, "--depth", "-n", min=1, help="Follow at most N hops (default: all)."),  # noqa: UP007, UP045 - typer needs Optional on 3.10
    fmt: LineageFormat = typer.Option(LineageFormat.tree, "--format", "-f", help="tree, mermaid, svg or json."),
    scope: Optional[Scope] = typer.Option(None, "--scope", "-s", help="run (default for a flow run) or all."),  # noqa: UP007, UP045
) -> None:
    """Show the lineage graph around REF."""
    from trackflow.tracking.client import Client

    graph = Client().lineage(ref, direction=direction.value, depth=depth, scope=scope.value if scope else None)
    if fmt is LineageFormat.svg:
        typer.echo(graph.to_svg())
    elif fmt is LineageFormat.json:
        typer.echo(json.dumps(graph.to_dict(), indent=2, default=str))
    elif fmt is LineageFormat.mermaid:
        typer.echo(graph.to_mermaid())
    else:
        typer.echo(graph.to_tree())


def register(app: typer.Typer) -> None:
    """Add the ``lineage`` command to the ``trackflow`` app."""
    app.command("lineage")(lineage)
