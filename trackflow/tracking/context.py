"""The active run: a context-local stack, plus resolvers that bind runs to Prefect runs.

``start_run`` pushes onto a :class:`contextvars.ContextVar` (so threads and asyncio tasks
started from a run see it, and nothing leaks between unrelated threads). The Prefect
integration registers a resolver that finds the trackflow run of the current Prefect
flow or task run from Prefect's own run context. This module does not import Prefect.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar, Token

__all__ = ["push_run", "pop_run", "active_run_id", "run_stack", "register_run_resolver"]

_stack: ContextVar[tuple[str, ...]] = ContextVar("trackflow_run_stack", default=())
_resolvers: list[Callable[[], str | None]] = []


def push_run(run_id: str) -> Token[tuple[str, ...]]:
    """Make ``run_id`` the active run of this context; returns the token for pop_run."""
    return _stack.set((*_stack.get(), run_id))


def pop_run(token: Token[tuple[str, ...]]) -> None:
    """Undo the matching push_run."""
    try:
        _stack.reset(token)
    except ValueError:  # reset from another context: fall back to popping our id
        stack = _stack.get()
        if stack:
            _stack.set(stack[:-1])


def run_stack() -> tuple[str, ...]:
    """Run ids started with start_run in this context, outermost first."""
    return _stack.get()


def register_run_resolver(resolver: Callable[[], str | None]) -> None:
    """Add a function that names the active run when start_run did not (e.g. Prefect)."""
    if resolver not in _resolvers:
        _resolvers.append(resolver)


def active_run_id() -> str | None:
    """The active run: the innermost start_run, else the first resolver that knows one."""
    stack = _stack.get()
    if stack:
        return stack[-1]
    for resolver in _resolvers:
        run_id = resolver()
        if run_id:
            return run_id
    return None
