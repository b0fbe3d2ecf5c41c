"""Small value formatters shared by templates (as Jinja filters) and JSON (ISO times, plain numbers)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

__all__ = ["fmt_number", "fmt_time", "fmt_duration", "iso", "duration_seconds", "fmt_bytes", "FILTERS"]


def fmt_number(value: Any) -> str:
    """A metric value for a table cell: 4 significant digits, ints as ints, '' for None, 'NaN'."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, int) or (value.is_integer() and abs(value) < 1e15):
        return f"{int(value):,}" if abs(value) >= 10_000 else str(int(value))
    return f"{value:.4g}"


def fmt_time(value: datetime | None) -> str:
    """``2026-01-31 14:05:09`` in UTC, '' for None."""
    if value is None:
        return ""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def iso(value: datetime | None) -> str | None:
    """ISO-8601 (UTC) for JSON, None for None."""
    return value.astimezone(timezone.utc).isoformat() if value is not None else None


def duration_seconds(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from ``start`` to ``end``; None while running."""
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def fmt_duration(seconds: float | None) -> str:
    """``850 ms``, ``12.3 s``, ``4m 05s``, ``2h 03m``; '' for None (still running)."""
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def fmt_bytes(size: int | None) -> str:
    """``512 B``, ``3.4 KiB``, ``12.0 MiB``."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


FILTERS: dict[str, Callable[[Any], str]] = {"number": fmt_number, "time": fmt_time, "duration": fmt_duration, "bytes": fmt_bytes}
"""Jinja filters registered on the ui templates."""
