"""Summaries of repeated measurements, target verdicts, and the markdown report."""

from __future__ import annotations

import math
import statistics
from typing import Any

from measure import percentile
from workloads import Check, Row, Workload

__all__ = ["derive", "evaluate", "fmt", "markdown", "summarize_side"]

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


def derive(row: Row, collected: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Per side, the results of one extra row: ``value`` replaced by the row's figure.

    A side that does not report the figure gets no results (its baseline is left out).
    """
    derived: dict[str, list[dict[str, Any]]] = {}
    for side, results in collected.items():
        rows = []
        for result in results:
            if result.get("status") != "ok":
                rows.append(result)
            elif isinstance(result.get(row.figure), (int, float)) and not math.isnan(result[row.figure]):
                rows.append({**result, "value": result[row.figure]})
        if side == "trackflow" and not rows:
            rows = [{"status": "error", "reason": f"no {row.figure} reported"}]
        derived[side] = rows if side == "trackflow" or any(r.get("status") == "ok" for r in rows) else []
    return derived


def _ratio(workload: Workload, mine: float, base_value: float) -> float | None:
    if mine <= 0 or base_value is None:
        return None
    if workload.target.kind == "ratio_max":
        return mine / base_value
    if workload.better == "lower":
        return base_value / mine
    return mine / base_value if base_value else None


def evaluate(workload: Workload, ours: dict[str, Any], baselines: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Ratios to every baseline (or the anchor) and whether the target and checks are met.

    ``ratio`` is against the first measured baseline (the one ``workload.target`` judges);
    ``ratios`` lists every baseline's; a variant with its own target adds a condition.
    """
    verdict: dict[str, Any] = {"ratio": None, "ratio_basis": None, "met": None, "checks": [], "ratios": []}
    if ours.get("status") not in ("ok", "partial"):
        return verdict
    mine = ours["median"]
    measured = [(label, side) for label, side in baselines if side.get("status") in ("ok", "partial")]
    targets = {b.side: b.target for b in workload.baselines}
    conditions: list[bool] = []
    for label, side in measured:
        ratio = _ratio(workload, mine, side["median"])
        wanted = targets.get(label)
        ok = None if wanted is None or ratio is None else ratio >= wanted
        verdict["ratios"].append({"label": label, "ratio": ratio, "target": wanted, "ok": ok})
        if label != measured[0][0] and ok is not None:
            conditions.append(ok)
    if measured:
        verdict["ratio"], verdict["ratio_basis"] = verdict["ratios"][0]["ratio"], "measured"
        if workload.anchor is not None and mine > 0:
            verdict["anchor_ratio"] = workload.anchor / mine if workload.better == "lower" else mine / workload.anchor
    elif workload.anchor is not None:
        verdict["ratio"], verdict["ratio_basis"] = _ratio(workload, mine, workload.anchor), "anchor"
    target, ratio = workload.target, verdict["ratio"]
    main: bool | None
    if target.kind == "speedup":
        main = None if ratio is None else ratio >= target.value
    elif target.kind == "ratio_max":
        main = None if ratio is None else ratio <= target.value
    elif target.kind == "max":
        main = mine <= target.value
    elif target.kind == "min":
        main = mine >= target.value
    else:
        main = None
    verdict["checks"] = [_check(c, ours) for c in workload.checks]
    checks_ok = all(c["ok"] for c in verdict["checks"]) and all(conditions)
    verdict["met"] = None if main is None else bool(main and checks_ok)
    return verdict


def _spread(side: dict[str, Any]) -> str:
    if side["n"] == 1:
        return "n=1"
    return f"{fmt(side['min'])}–{fmt(side['max'])}, n={side['n']}"


def _cell(side: dict[str, Any] | None, unit: str) -> str:
    if side is None:
        return "n/a"
    status = side.get("status")
    if status not in ("ok", "partial"):
        reason = str(side.get("reason") or "").replace("|", "/")
        return f"{status}: {reason[:90]}"
    spread = _spread(side)
    extras = side.get("extras", {})
    if isinstance(extras.get("successes"), dict) and isinstance(extras.get("runs"), dict):
        spread = f"{fmt(extras['successes']['median'])}/{fmt(extras['runs']['median'])} runs"
    return f"{fmt(side['median'])} {unit} ({spread})"


def _ratio_text(entry: dict[str, Any]) -> str:
    workload, verdict = entry["workload"], entry["verdict"]
    if verdict.get("ratio") is None:
        return "n/a"
    if verdict.get("ratio_basis") == "anchor":
        return f"{fmt(verdict['ratio'])}x (vs anchor)"
    texts = []
    for item in verdict["ratios"]:
        if item["ratio"] is None:
            continue
        if workload.target.kind == "ratio_max":
            texts.append(f"{item['ratio']:.2f}x {item['label']}")
        else:
            word = "faster" if workload.better == "lower" else "more"
            texts.append(f"{fmt(item['ratio'])}x {word} than {item['label']}")
    anchor = verdict.get("anchor_ratio")
    if anchor is not None:
        texts.append(f"vs anchor: {fmt(anchor)}x")
    return "<br>".join(texts)


def _target_text(entry: dict[str, Any]) -> str:
    workload: Workload = entry["workload"]
    text = entry["target_text"]
    if workload.target.kind == "speedup" and workload.baseline == "mlflow":
        text = f"{text} than {workload.baselines[0].side}"
    extra = [f">= {fmt(b.target)}x faster than {b.side}" for b in workload.baselines[1:] if b.target]
    return "<br>".join([text, *extra])


def _met_text(verdict: dict[str, Any], ours: dict[str, Any]) -> str:
    if ours.get("status") not in ("ok", "partial"):
        return str(ours.get("status", "error"))
    met = verdict.get("met")
    checks = ", ".join(f"{c['check'].split()[0]}={fmt(c['observed'])}" for c in verdict.get("checks", []))
    misses = [f"{fmt(r['ratio'])}x < {fmt(r['target'])}x vs {r['label']}" for r in verdict.get("ratios", [])
              if r.get("ok") is False]
    text = {True: "yes", False: "**NO**", None: "n/a"}[met]
    details = "; ".join(filter(None, [checks, *misses]))
    return f"{text} ({details})" if details else text


def _second_text(entry: dict[str, Any]) -> str:
    second = entry["workload"].second
    if second is None:
        return "-"
    key, label = second
    parts = []
    for name, side in [("trackflow", entry["trackflow"]), *entry.get("baselines", {}).items()]:
        figure = (side or {}).get("extras", {}).get(key)
        if isinstance(figure, dict):
            parts.append(f"{name} {fmt(figure['median'])}")
    return f"{label}: " + "; ".join(parts) if parts else "-"


def _baseline_text(entry: dict[str, Any]) -> str:
    baselines = entry.get("baselines") or {}
    if not baselines:
        if entry.get("anchor") is not None:
            return f"MLflow anchor {fmt(entry['anchor'])} {entry['unit']}"
        return "-" if entry["baseline_kind"] == "none" else "not run"
    return "<br>".join(f"{label}: {_cell(side, entry['unit'])}" for label, side in baselines.items())


def _rss_text(entry: dict[str, Any]) -> str:
    ours = fmt(entry["trackflow"].get("peak_rss_mb"))
    theirs = [fmt(side.get("peak_rss_mb")) for side in (entry.get("baselines") or {}).values()]
    return " / ".join([ours, *theirs])


def _header(meta: dict[str, Any]) -> list[str]:
    versions = (f"trackflow {meta['trackflow']} · Prefect {meta.get('prefect') or '-'} · prefect-dask "
                f"{meta.get('prefect_dask') or '-'} · scikit-learn {meta.get('scikit_learn') or '-'} · SQLite "
                f"{meta.get('sqlite')} · MLflow {meta.get('mlflow') or 'not run'}"
                + (f" (Python {meta['mlflow_python_version']})" if meta.get("mlflow_python_version") else ""))
    load = (f"Load average {meta['loadavg_at_start'][0]} at start, {meta['loadavg_at_end'][0]} at end."
            if meta.get("loadavg_at_end") else "")
    return [
        "# trackflow vs MLflow / Prefect",
        "",
        f"- Command: `{meta.get('command', 'python benchmarks/run.py')}`",
        f"- Date: {meta['date']}",
        f"- Machine: {meta['machine']}, Python {meta['python']}",
        f"- Versions: {versions}",
        f"- {'quick' if meta['quick'] else 'full'} sizes, up to {meta['repeat']} repetitions per side (median, "
        f"min–max, n); sides alternate. {load}",
        "",
        "Logging figures are until durable (the calls, end_run and the flush; the stored values are then counted "
        "through a separate read-only sqlite3 connection); the queued figure is the second column. Flow figures are "
        "the whole flow call; the body is the second column. Targets are judged against the baselines measured in "
        "the same invocation; the issue's MLflow 3.17.2 anchor ratio is shown too.",
        "",
        "| workload | trackflow | baseline(s) | ratio | target | met | second column | peak RSS MB (tf / base) |",
        "|---|---|---|---|---|---|---|---|",
    ]


def markdown(entries: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The results as a markdown table (command, machine, versions and date first) plus a details list."""
    lines = _header(meta)
    for entry in entries:
        ours = entry["trackflow"]
        lines.append(
            f"| {entry['name']}: {entry['title']} | {_cell(ours, entry['unit'])} | {_baseline_text(entry)} | "
            f"{_ratio_text(entry)} | {_target_text(entry)} | {_met_text(entry['verdict'], ours)} | "
            f"{_second_text(entry)} | {_rss_text(entry)} |"
        )
    lines += ["", "Details (medians: trackflow / each baseline):", ""]
    for entry in entries:
        if entry.get("derived_from"):
            continue  # an extra row of a workload listed already
        ours, baselines = entry["trackflow"], list((entry.get("baselines") or {}).values())
        keys = [k for k in ours.get("extras", {}) if isinstance(ours["extras"][k], dict)]
        parts = []
        for key in keys:
            theirs = [b.get("extras", {}).get(key) for b in baselines]
            other = "".join(f" / {fmt(t['median'])}" for t in theirs if isinstance(t, dict))
            parts.append(f"{key} {fmt(ours['extras'][key]['median'])}{other}")
        texts = [f"{k}: {v}" for k, v in ours.get("extras", {}).items() if isinstance(v, str)]
        sizes = ", ".join(f"{k}={v}" for k, v in (entry.get("params") or {}).items())
        if entry.get("baseline_note"):
            texts.append(entry["baseline_note"])
        lines.append(f"- **{entry['name']}** ({sizes}): " + "; ".join(parts + texts))
    return "\n".join(lines) + "\n"
