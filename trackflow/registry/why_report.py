"""The answer to "why this model?": frozen records of one version's chain of reasons.

A :class:`WhyReport` is built from the records alone (:mod:`trackflow.registry.why_build`)
and rendered as text for ``trackflow models why`` or as markdown for the model card and
``trackflow ui`` (:mod:`trackflow.registry.why_render`). It holds:

* the version's stage decisions (:class:`Decision`): every transition of the version, with
  the promotion policy's compared values when ``promote_if`` decided it;
* its evaluation metrics against its predecessor version (:class:`MetricChange`);
* the notes (decisions, assumptions, findings) in its upstream lineage, from the pipeline
  and from the exploration that informed it, each with its evidence (:class:`WhyNote`);
* the datasets it trained on and what changed since the predecessor (:class:`DatasetChange`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "Decision",
    "MetricChange",
    "Evidence",
    "WhyNote",
    "ColumnDrift",
    "DatasetChange",
    "WhyReport",
]


@dataclass(frozen=True)
class Decision:
    """One stage transition of the version, with the promotion policy's values when one decided it."""

    from_stage: str | None
    to_stage: str
    reason: str | None
    user: str | None
    when: datetime
    flow_run_id: str | None = None
    policy: str | None = None
    """The ``promote_if`` policy text, when a policy decided this transition."""
    passed: bool | None = None
    metric: str | None = None
    candidate_value: float | None = None
    reference: str | None = None
    """What the policy compared against: ``production``, ``staging`` or ``@alias``."""
    reference_version: int | None = None
    reference_metric: str | None = None
    reference_value: float | None = None
    threshold: float | None = None
    op: str | None = None

    @property
    def is_promotion_decision(self) -> bool:
        """True when a promotion policy decided this transition (its values are recorded)."""
        return self.policy is not None


@dataclass(frozen=True)
class MetricChange:
    """One evaluation metric of the version next to the predecessor's value."""

    key: str
    value: float | None
    previous: float | None

    @property
    def delta(self) -> float | None:
        """``value - previous`` when both are finite numbers, else None."""
        if self.value is None or self.previous is None:
            return None
        if not (math.isfinite(self.value) and math.isfinite(self.previous)):
            return None
        return self.value - self.previous


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence behind a note: a lineage node, described."""

    ref: str
    """The lineage node id: ``dataset:<fp>``, ``run:<id>``, ``artifact:<uri>``, ``note:<id>`` ..."""
    kind: str
    label: str
    name: str | None = None
    """What of the node is meant, e.g. ``metrics.auc`` of a run."""
    detail: str | None = None
    """A short description of the value: rows of a dataset, a metric's value, an artifact's path."""


@dataclass(frozen=True)
class WhyNote:
    """A note in the version's upstream lineage, with its run and evidence."""

    id: int
    ref: str
    kind: str
    text: str
    created_at: datetime | None
    run_id: str | None
    run_name: str | None
    run_kind: str | None
    experiment: str | None
    origin: str
    """``pipeline`` (written in the runs that produced the version), ``exploration`` (an
    exploration run, or a run or note that informs the pipeline) or ``upstream`` (another run
    whose output the pipeline used)."""
    evidence: tuple[Evidence, ...] = ()
    informs: bool = False
    """True when the note itself is linked to the pipeline with an ``informs`` edge."""


@dataclass(frozen=True)
class ColumnDrift:
    """How one column of a dataset changed between two versions' training data."""

    column: str
    change: str
    """``added``, ``removed``, ``dtype``, ``nulls``, ``shift`` (numeric mean moved), ``categories``."""
    before: str | None
    now: str | None
    score: float | None = None
    """For ``shift``: the mean's move in standard deviations of the earlier data."""

    def describe(self) -> str:
        """One line, e.g. ``petal_length: shift 3.76 -> 4.9 (+0.65 sd)``."""
        score = f" ({self.score:+.2f} sd)" if self.score is not None else ""
        return f"{self.column}: {self.change} {self.before or '-'} -> {self.now or '-'}{score}"


@dataclass(frozen=True)
class DatasetChange:
    """A dataset the version trained on, and what changed since the predecessor's."""

    name: str
    fingerprint: str
    rows: int | None
    columns: int | None
    status: str
    """``unchanged`` (same fingerprint), ``changed`` (same name, other content), ``new`` (no
    counterpart in the predecessor), ``first`` (the model has no predecessor)."""
    previous_fingerprint: str | None = None
    previous_rows: int | None = None
    previous_columns: int | None = None
    drift: tuple[ColumnDrift, ...] = ()

    @property
    def ref(self) -> str:
        """The lineage node of the dataset, ``dataset:<fingerprint>``."""
        return f"dataset:{self.fingerprint}"


@dataclass(frozen=True)
class WhyReport:
    """Why a model version is what and where it is, from the records alone."""

    name: str
    version: int
    stage: str
    aliases: tuple[str, ...]
    run_id: str | None
    run_name: str | None
    pipeline_run_id: str | None
    """The top-level run (the pipeline's flow run) the version's run belongs to."""
    pipeline_run_name: str | None
    previous_version: int | None
    decisions: tuple[Decision, ...] = ()
    metrics: tuple[MetricChange, ...] = ()
    notes: tuple[WhyNote, ...] = ()
    informed_by: tuple[str, ...] = ()
    """Lineage nodes (exploration runs, notes) linked to the pipeline by ``informs`` edges."""
    datasets: tuple[DatasetChange, ...] = field(default_factory=tuple)

    @property
    def uri(self) -> str:
        """``models:/<name>/<version>``."""
        return f"models:/{self.name}/{self.version}"

    @property
    def promotion(self) -> Decision | None:
        """The last transition a promotion policy decided (its compared values), or None."""
        decided = [d for d in self.decisions if d.is_promotion_decision]
        return decided[-1] if decided else None

    def notes_of(self, origin: str) -> list[WhyNote]:
        """The notes from ``pipeline``, ``exploration`` or ``upstream``, in time order."""
        return [n for n in self.notes if n.origin == origin]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (datetimes as ISO text, non-finite numbers as None)."""
        data: dict[str, Any] = _jsonable({**asdict(self), "uri": self.uri})
        return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
