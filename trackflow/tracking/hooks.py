"""Plug points through which the rooms above reach the tracking core and the registry.

The tracking core and the registry import neither Prefect nor the dashboard nor the
registry's client from below; what they need from above is registered here at import time
(the way :func:`trackflow.tracking.context.register_run_resolver` names the active run):

* :func:`register_flow_run_lookup` - which Prefect flow run this code runs in (recorded on
  stage transitions and deployments; events are only published inside one).
* :func:`register_event_publisher` - where registry events go (the Prefect event bus).
* :func:`register_registry_factory` - what ``Client().registry`` is (the registry's client).

``trackflow/__init__.py`` wires them: it imports :mod:`trackflow.registry` (which registers
its factory) and :mod:`trackflow.tracked.prefect_hooks` (the Prefect lookup and publisher).
Nothing registered means: no flow run (None), no events, and no registry. This module
imports neither Prefect nor SQLAlchemy, and of trackflow only :mod:`trackflow.exceptions`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from trackflow.exceptions import TrackflowError

__all__ = [
    "FlowRun",
    "EventPublisher",
    "register_flow_run_lookup",
    "current_flow_run",
    "current_flow_run_id",
    "register_event_publisher",
    "publish_event",
    "register_registry_factory",
    "open_registry",
]


class FlowRun(NamedTuple):
    """The orchestrator's flow run that code runs in: its id and (when known) its name."""

    id: str
    name: str | None = None


class EventPublisher(Protocol):
    """Publishes one event (the keyword arguments of the dashboard's ``publish_event``)."""

    def __call__(
        self,
        event: str,
        *,
        resource_id: str,
        resource: Mapping[str, str] | None = ...,
        related: Sequence[Mapping[str, str]] = ...,
        payload: Mapping[str, Any] | None = ...,
    ) -> Any: ...


_flow_run_lookups: list[Callable[[], FlowRun | None]] = []
_event_publishers: list[EventPublisher] = []
_registry_factories: list[Callable[[Any, Any], Any]] = []


def _register(hooks: list[Any], fn: Any) -> None:
    if fn not in hooks:
        hooks.append(fn)


# ---- the flow run -------------------------------------------------------------------


def register_flow_run_lookup(lookup: Callable[[], FlowRun | None]) -> None:
    """Add a function that names the current flow run (None outside one); idempotent."""
    _register(_flow_run_lookups, lookup)


def current_flow_run() -> FlowRun | None:
    """The flow run this code runs in, from the first lookup that knows one (never raises)."""
    for lookup in list(_flow_run_lookups):
        try:
            found = lookup()
        except Exception:  # noqa: BLE001 - a broken lookup never breaks the caller
            continue
        if found is not None:
            return found
    return None


def current_flow_run_id() -> str | None:
    """The id of :func:`current_flow_run`, or None outside a flow run (or without lookups)."""
    found = current_flow_run()
    return found.id if found is not None else None


# ---- events -------------------------------------------------------------------------


def register_event_publisher(publisher: EventPublisher) -> None:
    """Add a function that publishes events; idempotent."""
    _register(_event_publishers, publisher)


def publish_event(
    event: str,
    *,
    resource_id: str,
    resource: Mapping[str, str] | None = None,
    related: Sequence[Mapping[str, str]] = (),
    payload: Mapping[str, Any] | None = None,
) -> Any:
    """Hand an event to every registered publisher; the first result (None without one).

    Publishing never raises: a failing publisher is logged and skipped.
    """
    result = None
    for publisher in list(_event_publishers):
        try:
            value = publisher(event, resource_id=resource_id, resource=resource, related=related, payload=payload)
        except Exception as exc:  # noqa: BLE001 - an event never fails the caller
            import logging  # here: importing trackflow stays cheap

            logging.getLogger("trackflow").warning("trackflow: could not publish event %r: %s", event, exc)
            continue
        if result is None:
            result = value
    return result


# ---- the registry -------------------------------------------------------------------


def register_registry_factory(factory: Callable[[Any, Any], Any]) -> None:
    """Set what ``Client().registry`` builds: ``factory(client, store)`` (the last one wins)."""
    _register(_registry_factories, factory)


def open_registry(client: Any, store: Any) -> Any:
    """The registry client over ``client`` and its ``store`` (from the registered factory)."""
    if not _registry_factories:
        raise TrackflowError(
            "The model registry is not loaded.", hint="Import trackflow (or trackflow.registry) before using it."
        )
    return _registry_factories[-1](client, store)
