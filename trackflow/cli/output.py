"""Printing records as an aligned table, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from enum import Enum
from typing import Any

import typer

__all__ = ["OutputFormat", "emit", "format_value"]


class OutputFormat(str, Enum):
    """How list commands print their rows."""

    table = "table"
    json = "json"
    csv = "csv"


def format_value(value: Any) -> str:
    """A short text form of a cell."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    if hasattr(value, "isoformat"):
        return str(value.isoformat(timespec="seconds"))
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return str(value)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def emit(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: OutputFormat = OutputFormat.table) -> None:
    """Print ``rows`` (dicts) with ``columns`` in the chosen format."""
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(_json_safe([dict(r) for r in rows]), indent=2, default=_json_default))
        return
    if fmt is OutputFormat.csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: format_value(row.get(c)) for c in columns})
        typer.echo(buffer.getvalue().rstrip("\n"))
        return
    if not rows:
        typer.echo("(none)")
        return
    cells = [[format_value(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    typer.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for line in cells:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
