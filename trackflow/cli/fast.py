"""A fast dispatch for the read-only commands: call them without Typer's parameter coercion.

Typer converts every option through a pydantic ``TypeAdapter``; importing pydantic and
building the adapters costs ~0.1 s, a quarter of ``trackflow runs list``. For the commands
in :data:`FAST_COMMANDS`, :func:`try_fast` parses the command line itself, from the
command's own signature (the ``typer.Option`` declarations: names, defaults; the
``typer.Argument`` ones, in order, one value each; the annotations: ``str``, ``int``,
``bool`` flags, enums, repeatable ``list[str]``), and calls the command function.

It only takes what it fully understands: anything else (``--help``, an unknown option, a
value that does not convert, a missing or extra argument, an option with a callback) makes
it decline, and the caller runs Typer, which prints its usual help or usage error. A usage
error the command itself raises (``typer.BadParameter``) also hands over to Typer, which
reports it with the command's context; the listing commands are read-only, so running
them again is harmless.
"""

from __future__ import annotations

import enum
import inspect
import typing
from collections.abc import Callable, Sequence
from typing import Any

import typer

__all__ = ["FAST_COMMANDS", "try_fast"]

FAST_COMMANDS: frozenset[tuple[str, str]] = frozenset(
    {("runs", "list"), ("models", "list"), ("models", "show"), ("models", "versions"), ("models", "history")}
)
"""(group, command) pairs dispatched without Typer's coercion: read-only commands."""

_DECLINE = object()


def try_fast(app: typer.Typer, args: Sequence[str]) -> bool:
    """Run ``args`` directly when they name a fast command with options it understands;
    return False (having done nothing) when Typer must handle them."""
    if len(args) < 2 or (args[0], args[1]) not in FAST_COMMANDS:
        return False
    callback = _command(app, args[0], args[1])
    if callback is None:
        return False
    kwargs = _parse(callback, args[2:])
    if kwargs is None:
        return False
    from typer._click.exceptions import ClickException

    try:
        callback(**kwargs)
    except ClickException:
        return False  # Typer reports it, with the command's context
    return True


def _command(app: typer.Typer, group: str, name: str) -> Callable[..., Any] | None:
    for info in app.registered_groups:
        if info.name == group and info.typer_instance is not None:
            for command in info.typer_instance.registered_commands:
                if command.name == name and command.callback is not None:
                    return command.callback
    return None


def _parse(callback: Callable[..., Any], tokens: Sequence[str]) -> dict[str, Any] | None:
    """The keyword arguments ``tokens`` give ``callback``, or None when they are not simple
    options and single positional arguments."""
    hints = typing.get_type_hints(callback)
    options: dict[str, tuple[str, Any]] = {}
    arguments: list[tuple[str, Any]] = []
    kwargs: dict[str, Any] = {}
    for name, parameter in inspect.signature(callback).parameters.items():
        info = parameter.default
        if isinstance(info, typer.models.ArgumentInfo) and info.callback is None and not _is_list(hints[name]):
            arguments.append((name, hints[name]))
            if info.default is not ...:
                kwargs[name] = info.default
            continue
        if not isinstance(info, typer.models.OptionInfo) or info.callback is not None:
            return None
        declared = list(info.param_decls or ())
        if not declared or any("/" in decl for decl in declared):  # --x/--no-x switches: left to Typer
            return None
        kwargs[name] = info.default
        for decl in declared:
            options[decl] = (name, hints[name])
    position = 0
    while position < len(tokens):
        token = tokens[position]
        if not token.startswith("-"):  # the next positional argument
            if not arguments:
                return None
            name, annotation = arguments.pop(0)
            value = _convert(_kind(annotation), token)
            if value is _DECLINE:
                return None
            kwargs[name] = value
            position += 1
            continue
        flag, has_value, inline = token.partition("=") if token.startswith("--") else (token, False, "")
        if flag not in options:
            return None
        name, annotation = options[flag]
        kind = _kind(annotation)
        if kind is bool:
            if has_value:
                return None
            kwargs[name] = True
            position += 1
            continue
        if has_value:
            raw = inline
            position += 1
        elif position + 1 < len(tokens):
            raw = tokens[position + 1]
            position += 2
        else:
            return None
        value = _convert(kind, raw)
        if value is _DECLINE:
            return None
        if _is_list(annotation):
            kwargs[name] = [*(kwargs[name] or []), value]
        else:
            kwargs[name] = value
    if any(name not in kwargs for name, _ in arguments):  # a required argument is missing: Typer says so
        return None
    return kwargs


def _is_list(annotation: Any) -> bool:
    return any(typing.get_origin(a) in (list, Sequence) for a in (annotation, *typing.get_args(annotation)))


def _kind(annotation: Any) -> Any:
    """The scalar type of an option: ``str``, ``int``, ``bool`` or an enum (Optional / list unwrapped)."""
    while typing.get_args(annotation):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    return annotation


def _convert(kind: Any, raw: str) -> Any:
    if raw.startswith("-"):  # an option where a value belongs: Typer says what is wrong
        return _DECLINE
    if kind is str:
        return raw
    if kind is int:
        return int(raw) if raw.isdigit() else _DECLINE
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(raw)
        except ValueError:
            return _DECLINE
    return _DECLINE
