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
    "validate_timestamp",
    "escape_surrogates",
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
MAX_TIMESTAMP_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last datetime Python can show
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
    if not value.isascii() and not _is_utf8(value):
        raise InvalidInputError(
            f"{what} {value!r} is not valid Unicode text: it contains a lone surrogate (often a "
            "file name that is not UTF-8), which the database cannot store.",
            hint="Decode the name properly, or use a plain-text key.",
        )
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
    try:
        if value in _valid_keys:
            return value  # type: ignore[no-any-return]
    except TypeError:  # unhashable: not a string, reported below
        pass
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


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters (and safe for a huge int)."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to convert
        return f"<{type(value).__name__} too large to show>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _finite(number: numbers.Real) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:  # a Fraction too large for a float
        return False


def _is_utf8(text: str) -> bool:
    """True unless ``text`` holds a lone surrogate (which no database can store as UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def escape_surrogates(text: str) -> str:
    """``text`` with every lone surrogate written as a backslash escape (``'\\udce9'``).

    Python decodes a file name that is not UTF-8 with ``surrogateescape`` (``os.listdir``,
    ``sys.argv``, ``pathlib``): ``'caf\\udce9.csv'`` for the Latin-1 bytes ``caf\\xe9.csv``.
    Such a string cannot be stored as UTF-8; it is stored as ``'caf\\\\udce9.csv'`` (the
    six characters backslash, ``u``, ``d``, ``c``, ``e``, ``9``). Every other character is
    kept as it is. The escaping is one-way: reading the value back gives the escaped text.
    """
    if text.isascii() or _is_utf8(text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _value_to_text(what: str, value: Any) -> str:
    if isinstance(value, str):
        text = value
    else:
        try:
            text = str(value)
        except ValueError as exc:  # e.g. an int with more than 4,300 digits
            raise InvalidInputError(f"{what} cannot be converted to text: {exc}") from None
    return escape_surrogates(text)


def param_value_to_str(key: str, value: Any) -> str:
    """Params are stored as strings (as MLflow does), at most 8,000 characters.

    Lone surrogates (file names that are not UTF-8) are stored backslash-escaped, see
    :func:`escape_surrogates`; a NUL character is rejected.
    """
    text = _value_to_text(f"Param {key!r} value", value)
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        raise InvalidInputError(
            f"Param {key!r} value is {len(text)} characters long; the limit is {MAX_PARAM_VALUE_LENGTH}.",
            hint="Log long values as an artifact (log_text / log_dict) instead.",
        )
    if "\x00" in text:
        raise InvalidInputError(f"Param {key!r} value contains a NUL character.")
    return text


def tag_value_to_str(key: str, value: Any) -> str:
    """Tags are strings up to 8,000 characters (lone surrogates escaped as for params)."""
    text = _value_to_text(f"Tag {key!r} value", value)
    if len(text) > MAX_TAG_VALUE_LENGTH:
        raise InvalidInputError(f"Tag {key!r} value is {len(text)} characters long; the limit is {MAX_TAG_VALUE_LENGTH}.")
    if "\x00" in text:
        raise InvalidInputError(f"Tag {key!r} value contains a NUL character.")
    return text


def metric_value_to_float(key: str, value: Any) -> float:
    """A metric value: any real number (bools and NumPy scalars, ``np.bool_`` included); NaN
    and inf allowed. A number too large for a float (``10**400``) raises InvalidInputError."""
    if isinstance(value, float):
        return value
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except OverflowError:
            raise InvalidInputError(f"Metric {key!r} value {_short(value)} is too large for a float.") from None
    if type(value).__module__ == "numpy" and hasattr(value, "item"):  # np.bool_, 0-d arrays
        try:
            item = value.item()
        except ValueError:  # an array of several values
            item = None
        if isinstance(item, numbers.Real) and not hasattr(item, "item"):
            return metric_value_to_float(key, item)
    raise InvalidInputError(
        f"Metric {key!r} must be a number, got {type(value).__name__}: {_short(value)}.",
        hint="Log text as a tag or a param, and structured values with log_dict.",
    )


def validate_step(key: str, step: Any) -> int:
    """A metric step: an integer (NumPy integers accepted) within +/-2**62, 0 by default."""
    value: int
    if type(step) is int:  # the common case skips the slower ABC check
        value = step
    else:
        if isinstance(step, bool) or not isinstance(step, numbers.Integral):
            raise InvalidInputError(f"Metric {key!r} step must be an integer, got {_short(step)}.")
        value = int(step)
    if not -MAX_STEP <= value <= MAX_STEP:
        raise InvalidInputError(f"Metric {key!r} step {_short(value)} is out of range (+/-2**62).")
    return value


def validate_timestamp(key: str, timestamp: Any) -> int:
    """A metric timestamp: integer milliseconds since the epoch, from 1970 to the year 9999.

    NumPy integers are accepted, and floats (``time.time() * 1000``) are truncated; text,
    bools, NaN and values out of range raise InvalidInputError.
    """
    value: int
    if type(timestamp) is int:
        value = timestamp
    elif isinstance(timestamp, numbers.Integral) and not isinstance(timestamp, bool):
        value = int(timestamp)
    elif isinstance(timestamp, numbers.Real) and not isinstance(timestamp, bool) and _finite(timestamp):
        value = int(float(timestamp))
    else:
        raise InvalidInputError(
            f"Metric {key!r} timestamp must be integer milliseconds since the epoch, got "
            f"{type(timestamp).__name__}: {_short(timestamp)}."
        )
    if not 0 <= value <= MAX_TIMESTAMP_MS:
        raise InvalidInputError(
            f"Metric {key!r} timestamp {_short(value)} is out of range: milliseconds since the epoch, "
            f"0 to {MAX_TIMESTAMP_MS} (the year 9999)."
        )
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
