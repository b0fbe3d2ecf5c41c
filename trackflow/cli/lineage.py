"""``trackflow lineage REF``: what a run, dataset, artifact or model version came from and led to.

``REF`` is a run (its id or ``run:<id>``, a unique id prefix, its Prefect flow-run or task-run
id or its name), ``dataset:<fingerprint>`` (a unique prefix such as the 12 characters
``runs show`` prints will do), ``runs:/<run>/<path>`` (a logged model), an artifact URI or a
registered version: ``models:/<name>/<version>``, ``models:/<name>@<alias>`` or
``models:/<name>/<stage>``. A reference to nothing recorded is an error. ``--format tree`` prints
an indented tree, ``mermaid`` a ``graph TD`` diagram (paste it into a markdown file),
``svg`` a stand-alone SVG image (``> graph.svg``), ``json`` the nodes, edges and groups.
``--scope run`` keeps what the flow run holding REF recorded (the default when REF is a
flow run), ``--scope all`` also follows into other runs that used the same content.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Any, Optional

import typer

__all__ = ["Direction", "LineageFormat", "Scope", "lineage", "register", "resolve_root"]


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
    ref: str = typer.Argument(..., help="Run (id, prefix, Prefect id, name), dataset:<fingerprint>, runs:/<run>/<path>, artifact URI or models:/<name>/<version|@alias|stage>."),
    direction: Direction = typer.Option(Direction.both, "--direction", "-d", help="upstream, downstream or both."),
    depth: Optional[int] = typer.Option(None, "--depth", "-n", min=1, help="Follow at most N hops (default: all)."),  # noqa: UP007, UP045 - typer needs Optional on 3.10
    fmt: LineageFormat = typer.Option(LineageFormat.tree, "--format", "-f", help="tree, mermaid, svg or json."),
    scope: Optional[Scope] = typer.Option(None, "--scope", "-s", help="run (default for a flow run) or all."),  # noqa: UP007, UP045
) -> None:
    """Show the lineage graph around REF."""
    from trackflow.tracking.client import Client

    client = Client()
    graph = client.lineage(resolve_root(client, ref), direction=direction.value, depth=depth, scope=scope.value if scope else None)
    if fmt is LineageFormat.svg:
        typer.echo(graph.to_svg())
    elif fmt is LineageFormat.json:
        typer.echo(json.dumps(graph.to_dict(), indent=2, default=str))
    elif fmt is LineageFormat.mermaid:
        typer.echo(graph.to_mermaid())
    else:
        typer.echo(graph.to_tree())


def resolve_root(client: Any, ref: str) -> str:
    """``ref`` as the lineage reference of something recorded; NotFoundError when nothing is.

    Runs go through :func:`~trackflow.tracking.run_refs.resolve_run_ref`, dataset
    fingerprint prefixes through :func:`~trackflow.tracking.client_runs.find_dataset` and
    ``models:/`` URIs (version, alias or stage) through the registry.
    """
    from trackflow.tracking.run_refs import find_dataset, resolve_run_ref

    text = ref.strip()
    if text.startswith("models:/"):
        version = client.registry.resolve(text)
        return f"models:/{version.name}/{version.version}"
    if text.startswith("runs:/"):
        run_ref, _, path = text[len("runs:/") :].partition("/")
        if not path:
            return text  # normalize_ref explains the expected form
        return f"runs:/{resolve_run_ref(client, run_ref).id}/{path}"
    if text.startswith("dataset:"):
        return f"dataset:{find_dataset(client, text[len('dataset:') :])}"
    if text.startswith("run:") or (":" not in text and "/" not in text):
        return resolve_run_ref(client, text).ref
    return text


def register(app: typer.Typer) -> None:
    """Add the ``lineage`` command to the ``trackflow`` app."""
    app.command("lineage")(lineage)
