"""Checks applied to registry input (names, aliases, versions, tags, texts) before writing."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from trackflow.exceptions import InvalidInputError
from trackflow.tracking.validation import tag_value_to_str, validate_key

__all__ = [
    "MAX_MODEL_NAME_LENGTH",
    "MAX_DESCRIPTION_LENGTH",
    "MAX_REASON_LENGTH",
    "validate_model_name",
    "validate_alias",
    "validate_version",
    "validate_description",
    "validate_reason",
    "validate_details",
    "validate_version_options",
    "clean_tags",
    "clean_tag_keys",
]

MAX_MODEL_NAME_LENGTH = 256
MAX_DESCRIPTION_LENGTH = 100_000
MAX_REASON_LENGTH = 10_000
MAX_DETAILS_BYTES = 100_000
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_ALIAS = re.compile(r"[a-z0-9_-]{1,64}")
_DIGITS = re.compile(r"[0-9]{1,10}")
_NAME_HINT = "Model names start with a letter or digit and use only letters, digits, '.', '_' and '-'."
_ALIAS_HINT = "Aliases are 1-64 characters of lowercase letters, digits, '_' and '-' (e.g. 'champion')."


def validate_model_name(name: Any) -> str:
    """A registered model name: 1-256 characters of ``[A-Za-z0-9][A-Za-z0-9._-]*``."""
    if not isinstance(name, str):
        raise InvalidInputError(f"A model name must be a string, got {type(name).__name__}: {name!r}.", hint=_NAME_HINT)
    if not name:
        raise InvalidInputError("A model name must not be empty.", hint=_NAME_HINT)
    if len(name) > MAX_MODEL_NAME_LENGTH:
        raise InvalidInputError(
            f"Model name {name[:40]!r}... is {len(name)} characters long; the limit is {MAX_MODEL_NAME_LENGTH}.",
            hint=_NAME_HINT,
        )
    if not _MODEL_NAME.fullmatch(name):
        raise InvalidInputError(f"Invalid model name {name!r}.", hint=_NAME_HINT)
    return name


def validate_alias(alias: Any) -> str:
    """A model alias: 1-64 characters of ``[a-z0-9_-]``."""
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias):
        raise InvalidInputError(f"Invalid model alias {alias!r}.", hint=_ALIAS_HINT)
    return alias


def validate_version(version: Any) -> int:
    """A version number: a positive integer (or a string of digits, as the CLI passes)."""
    if isinstance(version, bool):
        raise InvalidInputError(f"A model version must be a positive integer, got {version!r}.")
    if isinstance(version, str) and _DIGITS.fullmatch(version.strip()):
        version = int(version.strip())
    if not isinstance(version, int) or isinstance(version, bool) or version < 1 or version > 2**31 - 1:
        raise InvalidInputError(
            f"A model version must be a positive integer, got {version!r}.",
            hint="Versions are numbered 1, 2, 3... per model; list them with registry.list_versions(name).",
        )
    return version


def _check_text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, got {type(value).__name__}.")
    if len(value) > limit:
        raise InvalidInputError(f"{what} is {len(value)} characters long; the limit is {limit}.")
    if "\x00" in value:
        raise InvalidInputError(f"{what} contains a NUL character.")
    return value


def validate_description(description: Any) -> str | None:
    """A description (markdown); the empty string clears it (stored as None)."""
    text = _check_text(description, "A description", MAX_DESCRIPTION_LENGTH)
    return text if text.strip() else None


def validate_reason(reason: Any) -> str | None:
    """The reason of a stage transition: free text, or None."""
    if reason is None:
        return None
    text = _check_text(reason, "A transition reason", MAX_REASON_LENGTH).strip()
    return text or None


def validate_details(details: Any) -> dict[str, Any] | None:
    """Details of a transition (e.g. compared metric values): a JSON-able mapping, or None.

    Non-finite floats are stored as strings so the JSON stays standard.
    """
    if details is None:
        return None
    if not isinstance(details, Mapping):
        raise InvalidInputError(f"Transition details must be a mapping, got {type(details).__name__}.")
    clean = _json_safe(dict(details))
    try:
        text = json.dumps(clean, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"Transition details are not JSON-serializable: {exc}") from exc
    if len(text) > MAX_DETAILS_BYTES:
        raise InvalidInputError(f"Transition details take {len(text)} bytes as JSON; the limit is {MAX_DETAILS_BYTES}.")
    return clean  # type: ignore[no-any-return]


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        try:
            return _json_safe(value.item())
        except (TypeError, ValueError):
            return value
    return value


def validate_version_options(*, description: Any, tags: Any, reason: Any, details: Any) -> dict[str, Any]:
    """The optional fields of a new version, validated: description, tags, reason, details."""
    return {
        "description": validate_description(description) if description is not None else None,
        "tags": clean_tags(tags),
        "reason": validate_reason(reason),
        "details": validate_details(details),
    }


def clean_tags(tags: Any) -> dict[str, str]:
    """Validate tag keys and stringify values of a mapping of tags."""
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidInputError(f"Tags must be a mapping of names to values, got {type(tags).__name__}.")
    return {validate_key(k, "Tag key"): tag_value_to_str(k, v) for k, v in tags.items()}


def clean_tag_keys(keys: Any) -> list[str]:
    """Validate a sequence of tag keys (for removal)."""
    if keys is None:
        return []
    if isinstance(keys, str) or not isinstance(keys, Sequence):
        raise InvalidInputError(f"Tag keys to remove must be a list of strings, got {type(keys).__name__}.")
    return [validate_key(k, "Tag key") for k in keys]
