"""YAML with line numbers: plain values plus ``{dotted key: line}``, and typed checks.

Used by :mod:`trackflow.deployments.spec` so every error names the key and its line.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from trackflow.exceptions import InvalidInputError

__all__ = ["compose_with_lines", "spec_error", "Checker"]


def compose_with_lines(text: str, source: str) -> tuple[dict[str, Any], dict[str, int]]:
    """Parse YAML into plain values plus ``{dotted key: line}`` for every mapping key."""
    if not isinstance(text, str):
        raise InvalidInputError(f"A pipeline spec must be text, got {type(text).__name__}.")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise spec_error(source, line, f"not valid YAML: {problem}") from None
    if root is None:
        raise spec_error(source, None, "the spec is empty.", hint="It needs at least `name:`; see examples/churn.")
    if not isinstance(root, yaml.MappingNode):
        message = "the spec must be a mapping of keys (name, flow, parameters ...)."
        raise spec_error(source, root.start_mark.line + 1, message)
    loader = yaml.SafeLoader("")
    lines: dict[str, int] = {}
    return _construct(loader, root, "", lines, source), lines


def _construct(loader: yaml.SafeLoader, node: yaml.Node, path: str, lines: dict[str, int], source: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                where = f" under `{path}`" if path else ""
                raise spec_error(source, line, f"key {key!r}{where} must be a string.")
            dotted = f"{path}.{key}" if path else key
            if key in result:
                raise spec_error(source, line, f"duplicate key `{dotted}` (first on line {lines.get(dotted)}).")
            lines[dotted] = line
            result[key] = _construct(loader, value_node, dotted, lines, source)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(loader, item, f"{path}[{i}]", lines, source) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def spec_error(source: str, line: int | None, message: str, *, hint: str | None = None) -> InvalidInputError:
    where = f"{source} line {line}" if line is not None else source
    return InvalidInputError(f"{where}: {message}", hint=hint)


class Checker:
    """Type checks that report the offending key with its line."""

    def __init__(self, source: str, lines: Mapping[str, int]) -> None:
        self.source = source
        self.lines = lines

    def error(self, key: str, message: str, *, hint: str | None = None) -> InvalidInputError:
        line = None
        probe = key
        while probe and line is None:
            line = self.lines.get(probe)
            probe = probe.rpartition(".")[0]
        return spec_error(self.source, line, message, hint=hint)

    def _typespec_error(self, key: str, expected: str, value: Any) -> InvalidInputError:
        return self.error(key, f"`{key}` must be {expected}, got {value!r} ({type(value).__name__}).")

    def known_keys(self, section: str, values: Mapping[str, Any], known: Sequence[str]) -> None:
        for key in values:
            if key not in known:
                dotted = f"{section}.{key}" if section else key
                close = difflib.get_close_matches(key, known, n=1)
                guess = f" Did you mean `{close[0]}`?" if close else ""
                where = f" in `{section}`" if section else ""
                raise self.error(dotted, f"unknown key `{dotted}`{where}.{guess}",
                                 hint=f"Known keys: {', '.join(known)}.")

    def string(self, key: str, value: Any, *, required: bool = False) -> Any:
        if value is None:
            if required:
                raise self.error(key, f"`{key}` is required.")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self._typespec_error(key, "a non-empty string", value)
        return value.strip()

    def number(self, key: str, value: Any, *, minimum: float, unit: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._typespec_error(key, f"a number of {unit}", value)
        if not float(value) >= minimum:
            raise self.error(key, f"`{key}` must be at least {minimum:g} {unit}, got {value!r}.")
        return float(value)

    def boolean(self, key: str, value: Any, *, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._typespec_error(key, "true or false", value)
        return value

    def mapping(self, key: str, value: Any) -> dict[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self._typespec_error(key, "a mapping", value)
        return value

    def string_list(self, key: str, value: Any) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self._typespec_error(key, "a list of strings", value)
        return [v.strip() for v in value]
