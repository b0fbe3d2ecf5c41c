"""Render a :class:`~trackflow.registry.why_report.WhyReport` as terminal text or markdown.

Both renderings say the same sentences (built once here): ``trackflow models why`` prints
the text, the model card and ``trackflow ui``'s version page show the markdown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from trackflow.registry.why_report import DatasetChange, Decision, Evidence, MetricChange, WhyNote, WhyReport

__all__ = ["render_why_text", "render_why_markdown", "describe_decision", "describe_dataset", "describe_evidence"]

_ORIGINS = (
    ("pipeline", "Decisions, assumptions and findings in the pipeline"),
    ("exploration", "From the exploration that informed it"),
    ("upstream", "Upstream of its data"),
)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _short(fingerprint: str | None) -> str:
    return "-" if not fingerprint else fingerprint.split(":", 1)[-1][:12]


def describe_decision(d: Decision) -> list[str]:
    """The decision's sentence, then (for a policy decision) the policy and the values it compared."""
    moved = f"{d.from_stage or 'registered'} -> {d.to_stage}"
    who = f" by {d.user}" if d.user else ""
    lines = [f"{moved} on {d.when.isoformat(timespec='seconds')}{who}: {d.reason or 'no reason recorded'}"]
    if d.policy is not None:
        verdict = "passed" if d.passed else "failed" if d.passed is not None else "recorded"
        lines.append(f"policy {verdict}: {d.policy}")
        if d.reference_version is None:
            lines.append(f"compared: candidate {d.metric} = {_num(d.candidate_value)}; "
                         f"no {d.reference} version to compare with")  # fmt: skip
        else:
            threshold = f" (threshold {_num(d.threshold)})" if d.threshold is not None else ""
            lines.append(
                f"compared: candidate {d.metric} = {_num(d.candidate_value)} {d.op or 'vs'} "
                f"{d.reference} v{d.reference_version} {d.reference_metric} = {_num(d.reference_value)}{threshold}"
            )
    return lines


def describe_evidence(e: Evidence) -> str:
    """One line: what the evidence is and its short description."""
    shown = f"{e.label} {e.detail or ''}"
    name = f" [{e.name}]" if e.name and e.name not in shown and not e.name.startswith(("metrics.", "params.")) else ""
    detail = f": {e.detail}" if e.detail and e.detail != e.label else ""
    return f"{e.kind} {e.label}{name}{detail} ({e.ref})"


def _note_head(n: WhyNote) -> str:
    where = f"run {n.run_name or n.run_id}" + (f" ({n.run_kind})" if n.run_kind else "")
    when = f", {n.created_at.isoformat(timespec='seconds')}" if n.created_at else ""
    informs = ", informs the pipeline" if n.informs else ""
    return f"[{n.kind}] {n.text}  ({where}{when}{informs}; {n.ref})"


def describe_dataset(d: DatasetChange, previous_version: int | None) -> list[str]:
    """The dataset's line and one line per drifted column."""
    shape = f"{d.rows if d.rows is not None else '?'} rows x {d.columns if d.columns is not None else '?'} columns"
    head = f"{d.name} {_short(d.fingerprint)} ({shape})"
    if d.status == "first":
        return [f"{head}: first version of the model"]
    if d.status == "new":
        return [f"{head}: new, not used by version {previous_version}"]
    if d.status == "unchanged":
        return [f"{head}: unchanged since version {previous_version}"]
    rows = ""
    if d.previous_rows is not None and d.rows is not None and d.previous_rows != d.rows:
        rows = f", rows {d.previous_rows} -> {d.rows} ({d.rows - d.previous_rows:+d})"
    lines = [f"{head}: changed since version {previous_version}: fingerprint "
             f"{_short(d.previous_fingerprint)} -> {_short(d.fingerprint)}{rows}"]  # fmt: skip
    lines += [f"column {c.describe()}" for c in d.drift]
    if not d.drift:
        lines.append("no column profile drift (same columns, dtypes and statistics within tolerance)")
    return lines


def _metric_rows(metrics: Sequence[MetricChange]) -> list[tuple[str, str, str, str]]:
    rows = []
    for m in metrics:
        delta = m.delta
        rows.append((m.key, _num(m.value), _num(m.previous), "-" if delta is None else f"{delta:+.4g}"))
    return rows


def _sections(
    report: WhyReport, *, history: bool = True
) -> list[tuple[str, list[tuple[int, str]], list[tuple[str, ...]] | None]]:
    """``(title, [(indent, line)], table or None)`` for every section, in order."""
    prev = report.previous_version
    sections: list[tuple[str, list[tuple[int, str]], list[tuple[str, ...]] | None]] = []
    promotion = report.promotion
    if promotion is not None:
        lines = describe_decision(promotion)
        sections.append(("Promotion decision", [(0, lines[0])] + [(1, x) for x in lines[1:]], None))
    else:
        sections.append(("Promotion decision", [(0, "no promotion policy decided this version's stage")], None))
    if history:
        moves = [(0, describe_decision(d)[0]) for d in report.decisions]
        sections.append(("Stage history", moves or [(0, "no transitions recorded")], None))
    title = f"Evaluation metrics (v{report.version} vs v{prev})" if prev else "Evaluation metrics"
    if report.metrics:
        header = ("metric", f"v{report.version}", f"v{prev}" if prev else "previous", "change")
        sections.append((title, [], [header, *_metric_rows(report.metrics)]))
    else:
        sections.append((title, [(0, "no metrics recorded")], None))
    for origin, heading in _ORIGINS:
        notes = report.notes_of(origin)
        if not notes and origin == "upstream":
            continue
        noted: list[tuple[int, str]] = []
        for n in notes:
            noted.append((0, _note_head(n)))
            noted += [(1, f"evidence: {describe_evidence(e)}") for e in n.evidence]
        sections.append((heading, noted or [(0, "none recorded")], None))
    if report.informed_by:
        sections.append(("Informed by", [(0, ref) for ref in report.informed_by], None))
    data: list[tuple[int, str]] = []
    for d in report.datasets:
        lines = describe_dataset(d, prev)
        data += [(0, lines[0])] + [(1, x) for x in lines[1:]]
    sections.append((f"Datasets it trained on (vs v{prev})" if prev else "Datasets it trained on",
                     data or [(0, "no input datasets recorded")], None))  # fmt: skip
    return sections


def _header(report: WhyReport) -> tuple[str, list[str]]:
    aliases = f", aliases {', '.join(report.aliases)}" if report.aliases else ""
    title = f"Why {report.uri} ({report.stage}{aliases})"
    facts = []
    if report.run_id:
        facts.append(f"run: {report.run_name or '?'} ({report.run_id})")
    if report.pipeline_run_id and report.pipeline_run_id != report.run_id:
        facts.append(f"pipeline: {report.pipeline_run_name or '?'} ({report.pipeline_run_id})")
    facts.append(f"predecessor: version {report.previous_version}" if report.previous_version else "predecessor: none")
    return title, facts


def _text_table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def render_why_text(report: WhyReport) -> str:
    """The report as plain text for a terminal."""
    title, facts = _header(report)
    out = [title, *(f"  {f}" for f in facts)]
    for heading, lines, table in _sections(report):
        out += ["", heading]
        out += [f"  {'    ' * indent}{'- ' if indent == 0 else ''}{line}" for indent, line in lines]
        if table:
            out += [f"  {line}" for line in _text_table(table)]
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace("\r", " ").replace("\n", " ")


def render_why_markdown(
    report: WhyReport,
    *,
    level: int = 2,
    title: str | None = None,
    history: bool = True,
    link: Callable[[str], str | None] | None = None,
) -> str:
    """The report as markdown under a heading of ``level`` (``title`` replaces the default one).

    ``history=False`` leaves the version's stage history out (the model card has its own);
    ``link(ref)`` may turn the lineage refs at the end of note and evidence lines into URLs.
    """
    default, facts = _header(report)
    title = title or default
    h = "#" * level
    out = [f"{h} {_md(title)}", "", *(f"- {_md(f)}" for f in facts)]
    for heading, lines, table in _sections(report, history=history):
        out += ["", f"{h}# {heading}", ""]
        for indent, line in lines:
            out.append(f"{'  ' * indent}- {_linked(_md(line), link)}")
        if table:
            out.append("| " + " | ".join(table[0]) + " |")
            out.append("|" + "---|" * len(table[0]))
            out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in table[1:]]
    return "\n".join(out) + "\n"


def _linked(line: str, link: Callable[[str], str | None] | None) -> str:
    """Turn the lineage ref closing a line (``(...; note:3)`` or ``(dataset:...)``) into a markdown link."""
    if link is None or not line.endswith(")") or "(" not in line:
        return line
    inner = line[line.rfind("(") + 1 : -1]
    ref = inner.rsplit("; ", 1)[-1]
    url = link(ref)
    if not url or ":" not in ref:
        return line
    return f"{line[: -1 - len(ref)]}[{ref}]({url}))"
