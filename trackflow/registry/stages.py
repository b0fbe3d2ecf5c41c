"""Stages of a model version, the transitions allowed between them, and promotion policies.

A version starts in ``development`` when it is registered. :data:`ALLOWED_TRANSITIONS` is
the whole state machine; moving a version to the stage it is in is refused. Each
transition is audited with :func:`current_user` and the flow run it happened in
(:func:`trackflow.tracking.hooks.current_flow_run_id`: whatever lookup the orchestrator
integration registered; the registry never imports Prefect). A promotion
policy such as ``metrics.roc_auc >= production.metrics.roc_auc + 0.005`` compares a
candidate's run metric with the metric of the version in a stage (or under an alias); it
is parsed by a small grammar here, never evaluated as Python.
"""

from __future__ import annotations

import getpass
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from trackflow.exceptions import ConflictError, InvalidInputError

__all__ = [
    "Stage",
    "ALLOWED_TRANSITIONS",
    "parse_stage",
    "check_transition",
    "PromotionPolicy",
    "PolicyReference",
    "PolicyDecision",
    "current_user",
]


class Stage(str, Enum):
    """Where a model version is in its life cycle."""

    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"
    ARCHIVED = "archived"


ALLOWED_TRANSITIONS: Mapping[Stage, frozenset[Stage]] = {
    Stage.DEVELOPMENT: frozenset({Stage.STAGING, Stage.PRODUCTION, Stage.ARCHIVED}),
    Stage.STAGING: frozenset({Stage.PRODUCTION, Stage.DEVELOPMENT, Stage.ARCHIVED}),
    Stage.PRODUCTION: frozenset({Stage.ARCHIVED, Stage.STAGING}),
    Stage.ARCHIVED: frozenset({Stage.DEVELOPMENT, Stage.STAGING}),
}
"""From each stage, the stages a version may move to."""

_STAGE_NAMES = ", ".join(s.value for s in Stage)


def parse_stage(value: Any) -> Stage:
    """A stage from its name (case-insensitive, MLflow's ``"Production"`` works)."""
    if isinstance(value, Stage):
        return value
    try:
        return Stage(str(value).strip().lower())
    except ValueError:
        raise InvalidInputError(f"Unknown stage {value!r}.", hint=f"Use one of: {_STAGE_NAMES}.") from None


def check_transition(current: Stage, target: Stage, *, what: str = "This version") -> None:
    """Raise ConflictError unless ``current -> target`` is in :data:`ALLOWED_TRANSITIONS`."""
    allowed = ALLOWED_TRANSITIONS[current]
    options = ", ".join(sorted(s.value for s in allowed))
    if current is target:
        raise ConflictError(
            f"{what} is already in {target.value}; nothing to do.", hint=f"From {current.value} it can move to: {options}."
        )
    if target not in allowed:
        raise ConflictError(
            f"{what} cannot move from {current.value} to {target.value}.",
            hint=f"From {current.value} it can move to: {options}.",
        )


# ------------------------------------------------------------- who and where (audit)


def current_user() -> str | None:
    """The login name recorded on transitions, or None when there is none."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return None


# ---------------------------------------------------------------------- promotion policy

_KEY = r"[A-Za-z0-9_][A-Za-z0-9_.\-]*?"
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_POLICY = re.compile(
    rf"\s*metrics\.(?P<lhs>{_KEY})\s*(?P<op>>=|<=|==|>|<)\s*"
    rf"(?P<ref>production|staging|@[a-z0-9_-]{{1,64}})\.metrics\.(?P<rhs>{_KEY})"
    rf"\s*(?:(?P<sign>[+-])\s*(?P<offset>{_NUMBER}))?\s*"
)
_OPS: Mapping[str, Callable[[float, float], bool]] = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
}
_POLICY_HINT = (
    "Write 'metrics.<key> <op> <production|staging|@alias>.metrics.<key> [+|- <number>]' "
    "with op one of >=, >, <=, <, ==; e.g. 'metrics.roc_auc >= production.metrics.roc_auc + 0.005'."
)


@dataclass(frozen=True)
class PolicyReference:
    """The version a policy compares against and its run's metrics (None when there is none)."""

    version: int | None
    metrics: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicyDecision:
    """The outcome of a promotion policy: passed or not, why, and the compared values."""

    passed: bool
    reason: str
    details: dict[str, Any]


@dataclass(frozen=True)
class PromotionPolicy:
    """``metrics.X <op> (production|staging|@alias).metrics.Y [+|- number]``, parsed."""

    text: str
    metric: str
    op: str
    reference: str
    reference_metric: str
    offset: float

    @classmethod
    def parse(cls, text: Any) -> PromotionPolicy:
        """Parse a policy; anything outside the grammar raises InvalidInputError."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError("A promotion policy must be a non-empty string.", hint=_POLICY_HINT)
        match = _POLICY.fullmatch(text)
        if match is None:
            raise InvalidInputError(f"Cannot parse the promotion policy {text!r}.", hint=_POLICY_HINT)
        offset = float(match.group("offset") or 0.0)
        if match.group("sign") == "-":
            offset = -offset
        if not math.isfinite(offset):
            raise InvalidInputError(f"The offset in the promotion policy {text!r} is not a finite number.")
        reference = match.group("ref")
        return cls(
            text=" ".join(text.split()),
            metric=match.group("lhs"),
            op=match.group("op"),
            reference=reference if reference.startswith("@") else reference.lower(),
            reference_metric=match.group("rhs"),
            offset=offset,
        )

    @property
    def reference_stage(self) -> Stage | None:
        """The stage compared against, or None when the reference is an alias."""
        return None if self.reference.startswith("@") else Stage(self.reference)

    @property
    def reference_alias(self) -> str | None:
        """The alias compared against, or None when the reference is a stage."""
        return self.reference[1:] if self.reference.startswith("@") else None

    def evaluate(self, candidate_metrics: Mapping[str, float], reference: PolicyReference) -> PolicyDecision:
        """Decide for a candidate with ``candidate_metrics`` against ``reference``.

        A candidate without the metric (missing or NaN) fails, even with no reference
        version; otherwise no reference version passes (there is nothing to beat); a
        missing or NaN reference metric fails, with the reason saying which.
        """
        details: dict[str, Any] = {
            "policy": self.text,
            "metric": self.metric,
            "op": self.op,
            "reference": self.reference,
            "reference_metric": self.reference_metric,
            "offset": self.offset,
            "reference_version": reference.version,
        }
        value = candidate_metrics.get(self.metric)
        details["candidate_value"] = value
        if value is None or (isinstance(value, float) and math.isnan(value)):  # even with nothing to beat
            return self._decide(False, f"the candidate's run has no value for metric {self.metric!r}", details)
        if reference.version is None:
            return self._decide(True, f"no {self._ref_label()} version exists, so the candidate is promoted", details)
        ref_value = reference.metrics.get(self.reference_metric)
        details["reference_value"] = ref_value
        if ref_value is None or (isinstance(ref_value, float) and math.isnan(ref_value)):
            return self._decide(
                False,
                f"{self._ref_label()} version {reference.version} has no value for metric {self.reference_metric!r}",
                details,
            )
        threshold = ref_value + self.offset
        details["threshold"] = threshold
        passed = _OPS[self.op](value, threshold)
        offset = f" {'+' if self.offset >= 0 else '-'} {abs(self.offset):g}" if self.offset else ""
        comparison = (
            f"{self.metric}={value:.6g} {self.op if passed else 'is not ' + self.op} "
            f"{self._ref_label()} v{reference.version} {self.reference_metric}={ref_value:.6g}{offset}"
        )
        return self._decide(passed, comparison, details)

    def _ref_label(self) -> str:
        return f"alias {self.reference}" if self.reference.startswith("@") else self.reference

    def _decide(self, passed: bool, why: str, details: dict[str, Any]) -> PolicyDecision:
        details["passed"] = passed
        verdict = "passed" if passed else "failed"
        return PolicyDecision(passed=passed, reason=f"promote_if {verdict} ({self.text}): {why}", details=details)
