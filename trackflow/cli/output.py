"""Printing records as a table fitted to the terminal (rich, imported when used), JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from enum import Enum
from typing import Any

import typer

__all__ = ["OutputFormat", "emit", "format_value", "sparkline"]

_BARS = "▁▂▃▄▅▆▇█"


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


def emit(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: OutputFormat = OutputFormat.table, *, fit: bool = False,
    wide: Sequence[str] = (),
    optional: Sequence[str] = (),
) -> None:
    """Print ``rows`` (dicts) with ``columns`` in the chosen format.

    With ``fit`` a table is fitted to the terminal's width (long cells cut with an ellipsis,
    never in the ``wide`` columns; the ``optional`` ones, in order, are left out when the
    others would not fit); without, every cell is printed whole.
    """
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
    if fit:
        _print_table(rows, columns, wide=wide, optional=optional)
        return
    cells = [[format_value(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    typer.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for line in cells:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def _print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], *, wide: Sequence[str], optional: Sequence[str]) -> None:
    """An aligned table as wide as the terminal: the ``optional`` columns are left out, in
    order, until the others fit at a readable width; long cells are then cut with an ellipsis
    (never in the ``wide`` columns, such as ids)."""
    import sys

    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stdout, highlight=False, soft_wrap=False)
    cells = [[format_value(row.get(c)) for c in columns] for row in rows]
    natural = {c: max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)}
    least = {c: natural[c] if c in wide else min(natural[c], max(len(c), 8)) for c in columns}
    kept = list(columns)
    for column in optional:
        if sum(least[c] for c in kept) + 2 * (len(kept) - 1) <= console.width:
            break
        if column in kept:
            kept.remove(column)
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold", padding=(0, 2, 0, 0))
    for column in kept:
        table.add_column(column.upper(), no_wrap=True, overflow="ellipsis", min_width=least[column])
    positions = [columns.index(c) for c in kept]
    for line in cells:
        table.add_row(*(line[i] for i in positions))
    console.print(table)


def sparkline(values: Sequence[float], *, width: int = 24) -> str:
    """A one-line chart of ``values`` (``▁▂▃▄▅▆▇█``), at most ``width`` characters (averaged down)."""
    finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if len(finite) < 2:
        return ""
    if len(finite) > width:
        size = len(finite) / width
        finite = [
            sum(chunk) / len(chunk)
            for chunk in (finite[int(i * size) : max(int((i + 1) * size), int(i * size) + 1)] for i in range(width))
        ]
    low, high = min(finite), max(finite)
    span = high - low
    if span == 0:
        return _BARS[3] * len(finite)
    return "".join(_BARS[min(len(_BARS) - 1, int((v - low) / span * len(_BARS)))] for v in finite)
