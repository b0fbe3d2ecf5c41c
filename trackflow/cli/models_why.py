"""``trackflow models why MODEL_URI``: the chain of reasons behind a model version, from the records.

Registered in :mod:`trackflow.cli.models` as ``app.command("why")(why_command)``.
"""

from __future__ import annotations

import json
from enum import Enum

import typer

__all__ = ["WhyFormat", "why_command"]


class WhyFormat(str, Enum):
    """How ``models why`` prints the report."""

    text = "text"
    markdown = "markdown"
    json = "json"


def why_command(
    model_uri: str = typer.Argument(
        ..., metavar="MODEL_URI", help="models:/<name>@<alias>, models:/<name>/<stage> or models:/<name>/<version>."
    ),
    fmt: WhyFormat = typer.Option(WhyFormat.text, "--format", "-f", help="text, markdown or json."),
) -> None:
    """Why this model? Its promotion decision and compared values, metrics against the previous version,
    the decisions, assumptions and findings upstream of it (pipeline and exploration, with their
    evidence), and the datasets it trained on with what changed since the previous version."""
    from trackflow.registry.why import why
    from trackflow.registry.why_render import render_why_markdown, render_why_text
    from trackflow.tracking.client import Client

    report = why(model_uri, client=Client())
    if fmt is WhyFormat.json:
        typer.echo(json.dumps(report.to_dict(), indent=2, sort_keys=False))
    elif fmt is WhyFormat.markdown:
        typer.echo(render_why_markdown(report, level=1), nl=False)
    else:
        typer.echo(render_why_text(report), nl=False)
