"""Summaries of repeated measurements, target verdicts, and the markdown report."""

from __future__ import annotations

import math
import statistics
from typing import Any

from measure import percentile
from workloads import Check, Workload

__all__ = ["evaluate", "fmt", "markdown", "summarize_side"]

_NOT_FIGURES = {"value", "peak_rss_mb", "samples", "baseline_samples", "params", "index"}


def fmt(value: float | None) -> str:
    """A number with a sensible number of digits (``-`` for None/NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    magnitude = abs(value)
    if float(value).is_integer() and magnitude < 1e15:
        return f"{int(value):,}"
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def summarize_side(results: list[dict[str, Any]], samples: list[float] | None = None) -> dict[str, Any]:
    """Median, spread and extra figures of one side's repetitions.

    ``results`` are the runners' result lines; ``samples`` overrides the main figures
    (for in-process workloads that return their own samples).
    """
    ok = [r for r in results if r.get("status") == "ok"]
    if not ok:
        first = results[0] if results else {"status": "skipped", "reason": "not run"}
        return {"status": first.get("status", "error"), "reason": first.get("reason"), "raw": results}
    values = samples if samples is not None else [float(r["value"]) for r in ok]
    extras: dict[str, Any] = {}
    for key in sorted({k for r in ok for k in r} - _NOT_FIGURES - {"side", "workload", "status"}):
        seen = [r[key] for r in ok if key in r]
        numbers = [float(v) for v in seen if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if numbers and len(numbers) == len(seen):
            extras[key] = {"median": statistics.median(numbers), "min": min(numbers), "max": max(numbers)}
        else:
            extras[key] = seen[0]
    rss = [float(r["peak_rss_mb"]) for r in ok if isinstance(r.get("peak_rss_mb"), (int, float))]
    return {
        "status": "ok" if len(ok) == len(results) else "partial",
        "reason": next((r.get("reason") for r in results if r.get("status") != "ok"), None),
        "samples": values,
        "n": len(values),
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "q1": percentile(values, 25),
        "q3": percentile(values, 75),
        "peak_rss_mb": statistics.median(rss) if rss else None,
        "extras": extras,
        "raw": results,
    }


def _check(check: Check, side: dict[str, Any]) -> dict[str, Any]:
    figure = side.get("extras", {}).get(check.metric)
    if not isinstance(figure, dict):
        return {"check": check.describe(), "observed": None, "ok": False}
    if check.agg == "median":
        observed = figure["median"]
    else:
        observed = figure["min"] if check.op in (">", ">=") else figure["max"]
    ok = {
        "<": observed < check.value,
        "<=": observed <= check.value,
        "==": observed == check.value,
        ">=": observed >= check.value,
        ">": observed > check.value,
    }[check.op]
    return {"check": check.describe(), "observed": observed, "ok": bool(ok)}


def evaluate(workload: Workload, ours: dict[str, Any], baseline: dict[str, Any] | None) -> dict[str, Any]:
    """Ratio to the baseline (or the anchor) and whether the target and checks are met."""
    verdict: dict[str, Any] = {"ratio": None, "ratio_basis": None, "met": None, "checks": []}
    if ours.get("status") not in ("ok", "partial"):
        return verdict
    mine = ours["median"]
    base_value, basis = None, None
    if baseline is not None and baseline.get("status") in ("ok", "partial"):
        base_value, basis = baseline["median"], "measured"
    elif workload.anchor is not None:
        base_value, basis = workload.anchor, "anchor"
    if workload.anchor is not None and basis == "measured" and mine > 0:
        verdict["anchor_ratio"] = workload.anchor / mine if workload.better == "lower" else mine / workload.anchor
    if base_value is not None and mine > 0:
        if workload.target.kind == "ratio_max":
            verdict["ratio"] = mine / base_value
        elif workload.better == "lower":
            verdict["ratio"] = base_value / mine
        else:
            verdict["ratio"] = mine / base_value if base_value else None
        verdict["ratio_basis"] = basis
    target, ratio = workload.target, verdict["ratio"]
    if target.kind == "speedup":
        main = None if ratio is None else ratio >= target.value
    elif target.kind == "ratio_max":
        main = None if ratio is None else ratio <= target.value
    elif target.kind == "max":
        main = mine <= target.value
    else:
        main = mine >= target.value
    verdict["checks"] = [_check(c, ours) for c in workload.checks]
    verdict["met"] = None if main is None else bool(main and all(c["ok"] for c in verdict["checks"]))
    return verdict


def _cell(side: dict[str, Any] | None, unit: str) -> str:
    if side is None:
        return "n/a"
    status = side.get("status")
    if status not in ("ok", "partial"):
        reason = str(side.get("reason") or "").replace("|", "/")
        return f"{status}: {reason[:90]}"
    spread = f"{fmt(side['min'])}–{fmt(side['max'])}" if side["n"] > 1 else "n=1"
    extras = side.get("extras", {})
    if isinstance(extras.get("successes"), dict) and isinstance(extras.get("runs"), dict):
        spread = f"{fmt(extras['successes']['median'])}/{fmt(extras['runs']['median'])} runs"
    return f"{fmt(side['median'])} {unit} ({spread})"


def _ratio_text(workload: Workload, verdict: dict[str, Any]) -> str:
    ratio = verdict.get("ratio")
    if ratio is None:
        return "n/a"
    suffix = " (vs anchor)" if verdict.get("ratio_basis") == "anchor" else ""
    if workload.target.kind == "ratio_max":
        return f"{ratio:.2f}x Prefect{suffix}"
    word = "faster" if workload.better == "lower" else "more"
    anchor = verdict.get("anchor_ratio")
    also = f" (vs anchor: {fmt(anchor)}x)" if anchor is not None else ""
    return f"{fmt(ratio)}x {word}{suffix}{also}"


def _met_text(verdict: dict[str, Any], ours: dict[str, Any]) -> str:
    if ours.get("status") not in ("ok", "partial"):
        return ours.get("status", "error")
    met = verdict.get("met")
    checks = ", ".join(f"{c['check'].split()[0]}={fmt(c['observed'])}" for c in verdict.get("checks", []))
    text = {True: "yes", False: "**NO**", None: "n/a"}[met]
    return f"{text} ({checks})" if checks else text


def _baseline_label(entry: dict[str, Any]) -> str:
    return {"mlflow": "MLflow", "prefect": "Prefect"}.get(entry["baseline_kind"], "-")


def markdown(entries: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The results as a markdown table plus a short details list."""
    lines = [
        "# trackflow vs MLflow / Prefect",
        "",
        f"{meta['date']} · {meta['machine']} · Python {meta['python']} · trackflow {meta['trackflow']} · "
        f"MLflow {meta.get('mlflow') or 'not run'} · Prefect {meta.get('prefect') or '-'} · "
        f"{'quick' if meta['quick'] else 'full'} sizes · up to {meta['repeat']} repetitions (median, min–max)"
        + (f" · load average {meta['loadavg_at_start'][0]} at start, {meta['loadavg_at_end'][0]} at end"
           if meta.get("loadavg_at_end") else ""),
        "",
        "Targets are judged against the MLflow measured here; the issue's MLflow 3.17.2 anchor ratio is shown too.",
        "",
        "| workload | trackflow | baseline | ratio | target | met | peak RSS MB (tf / base) |",
        "|---|---|---|---|---|---|---|",
    ]
    for entry in entries:
        ours, base = entry["trackflow"], entry.get("baseline")
        unit = entry["unit"]
        base_cell = _cell(base, unit)
        if base is None and entry.get("anchor") is not None:
            base_cell = f"MLflow anchor {fmt(entry['anchor'])} {unit}"
        elif base is not None:
            base_cell = f"{_baseline_label(entry)}: {base_cell}"
        rss_base = fmt(base.get("peak_rss_mb")) if base else "-"
        lines.append(
            f"| {entry['name']}: {entry['title']} | {_cell(ours, unit)} | {base_cell} | "
            f"{_ratio_text(entry['workload'], entry['verdict'])} | {entry['target_text']} | "
            f"{_met_text(entry['verdict'], ours)} | {fmt(ours.get('peak_rss_mb'))} / {rss_base} |"
        )
    lines += ["", "Details (trackflow / baseline, medians):", ""]
    for entry in entries:
        ours, base = entry["trackflow"], entry.get("baseline") or {}
        keys = [k for k in ours.get("extras", {}) if isinstance(ours["extras"][k], dict)]
        parts = []
        for key in keys:
            theirs = base.get("extras", {}).get(key)
            other = f" / {fmt(theirs['median'])}" if isinstance(theirs, dict) else ""
            parts.append(f"{key} {fmt(ours['extras'][key]['median'])}{other}")
        texts = [f"{k}: {v}" for k, v in ours.get("extras", {}).items() if isinstance(v, str)]
        sizes = ", ".join(f"{k}={v}" for k, v in (entry.get("params") or {}).items())
        if entry.get("baseline_note"):
            texts.append(entry["baseline_note"])
        lines.append(f"- **{entry['name']}** ({sizes}): " + "; ".join(parts + texts))
    return "\n".join(lines) + "\n"
