"""Checks applied to user input before anything is written."""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping, Sequence
from typing import Any

from trackflow.exceptions import ConflictError, InvalidInputError
from trackflow.tracking.entities import NoteKind

__all__ = [
    "MAX_NAME_LENGTH",
    "MAX_KEY_LENGTH",
    "MAX_PARAM_VALUE_LENGTH",
    "MAX_TAG_VALUE_LENGTH",
    "validate_name",
    "validate_key",
    "validate_run_id",
    "param_value_to_str",
    "tag_value_to_str",
    "metric_value_to_float",
    "validate_step",
    "validate_note_kind",
    "validate_params",
    "param_conflict_error",
]

MAX_NAME_LENGTH = 256
MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 8000
MAX_TAG_VALUE_LENGTH = 8000
MAX_NOTE_LENGTH = 100_000
MAX_STEP = 2**62
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_valid_keys: set[str] = set()


def _check_text(value: Any, what: str, max_length: int, *, separators: bool) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, got {type(value).__name__}: {value!r}.")
    if not value or not value.strip():
        raise InvalidInputError(f"{what} must not be empty.")
    if len(value) > max_length:
        raise InvalidInputError(f"{what} is {len(value)} characters long; the limit is {max_length}: {value[:40]!r}...")
    if _CONTROL.search(value):
        raise InvalidInputError(f"{what} {value!r} contains a control character.")
    if value != value.strip():
        raise InvalidInputError(f"{what} {value!r} has leading or trailing whitespace.")
    if separators and ("/" in value or "\\" in value):
        raise InvalidInputError(f"{what} {value!r} contains a path separator ('/' or '\\').")
    return value


def validate_name(value: Any, what: str = "Experiment name") -> str:
    """An experiment or run name: non-empty, <= 256 chars, no control characters or slashes."""
    return _check_text(value, what, MAX_NAME_LENGTH, separators=True)


def validate_key(value: Any, what: str = "Key") -> str:
    """A param, metric or tag key: non-empty, <= 250 chars, no control chars or slashes.

    Valid keys are remembered, so logging the same key again costs a set lookup.
    """
    if value in _valid_keys:
        return value  # type: ignore[no-any-return]
    _check_text(value, what, MAX_KEY_LENGTH, separators=True)
    if len(_valid_keys) < 100_000:
        _valid_keys.add(value)
    return value  # type: ignore[no-any-return]


def validate_run_id(value: Any) -> str:
    """A run id: 32 lowercase hex characters (a UUID without dashes); dashes are accepted."""
    if isinstance(value, str):
        candidate = value.replace("-", "").lower()
        if _RUN_ID.match(candidate):
            return candidate
    raise InvalidInputError(f"Invalid run id {value!r}: expected a 32-character hex UUID.")


def param_value_to_str(key: str, value: Any) -> str:
    """Params are stored as strings (as MLflow does), at most 8,000 characters."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        raise InvalidInputError(
            f"Param {key!r} value is {len(text)} characters long; the limit is {MAX_PARAM_VALUE_LENGTH}.",
            hint="Log long values as an artifact (log_text / log_dict) instead.",
        )
    if "\x00" in text:
        raise InvalidInputError(f"Param {key!r} value contains a NUL character.")
    return text


def tag_value_to_str(key: str, value: Any) -> str:
    """Tags are strings up to 8,000 characters."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_TAG_VALUE_LENGTH:
        raise InvalidInputError(f"Tag {key!r} value is {len(text)} characters long; the limit is {MAX_TAG_VALUE_LENGTH}.")
    if "\x00" in text:
        raise InvalidInputError(f"Tag {key!r} value contains a NUL character.")
    return text


def metric_value_to_float(key: str, value: Any) -> float:
    """A metric value: any real number (bools and NumPy scalars included); NaN and inf allowed."""
    if isinstance(value, float):
        return value
    if isinstance(value, numbers.Real):
        return float(value)
    raise InvalidInputError(
        f"Metric {key!r} must be a number, got {type(value).__name__}: {value!r}.",
        hint="Log text as a tag or a param, and structured values with log_dict.",
    )


def validate_step(key: str, step: Any) -> int:
    """A metric step: an integer (NumPy integers accepted) within +/-2**62, 0 by default."""
    value: int
    if type(step) is int:  # the common case skips the slower ABC check
        value = step
    else:
        if isinstance(step, bool) or not isinstance(step, numbers.Integral):
            raise InvalidInputError(f"Metric {key!r} step must be an integer, got {step!r}.")
        value = int(step)
    if not -MAX_STEP <= value <= MAX_STEP:
        raise InvalidInputError(f"Metric {key!r} step {value} is out of range (+/-2**62).")
    return value


def validate_note_kind(kind: Any) -> NoteKind:
    """One of note, decision, assumption, finding."""
    try:
        return NoteKind(str(kind).lower())
    except ValueError:
        allowed = ", ".join(k.value for k in NoteKind)
        raise InvalidInputError(f"Unknown note kind {kind!r}; use one of: {allowed}.") from None


def validate_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Validate keys and stringify values of a mapping of params."""
    if not isinstance(params, Mapping):
        raise InvalidInputError(f"Params must be a mapping of names to values, got {type(params).__name__}.")
    return {validate_key(k, "Param key"): param_value_to_str(k, v) for k, v in params.items()}


def param_conflict_error(run_id: str, conflicts: Sequence[tuple[str, str, str]]) -> ConflictError:
    """The error for params logged again with other values: ``(key, stored, new)`` each."""
    described = "; ".join(f"{key!r}: stored {old!r}, new {new!r}" for key, old, new in conflicts[:5])
    return ConflictError(
        f"Param(s) of run {run_id} already logged with a different value: {described}.",
        hint="Params are write-once per run; use a new key, a metric, or a new run.",
    )


def is_finite(value: float) -> bool:
    """True for every float but NaN and +/-inf."""
    return math.isfinite(value)
