"""Safe publishing to Prefect: artifacts and events that never fail the user's flow.

Every function here logs a warning and returns None when Prefect cannot take the
publication (no API, server down, outside a run for artifacts that need one).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

__all__ = [
    "ArtifactTarget",
    "artifact_key",
    "artifact_target",
    "artifact_url",
    "prefect_ui_url",
    "publish_markdown",
    "publish_table",
    "publish_event",
]

logger = logging.getLogger("trackflow.dashboard")
_KEY_CHARS = re.compile(r"[^a-z0-9-]+")


def artifact_key(*parts: str) -> str:
    """A Prefect artifact key: lowercase letters, digits and dashes (Prefect's rule)."""
    key = _KEY_CHARS.sub("-", "-".join(parts).lower()).strip("-")
    key = re.sub(r"-{2,}", "-", key)
    return key[:200] or "trackflow"


def prefect_ui_url() -> str | None:
    """Prefect's ``PREFECT_UI_URL`` (set, or inferred from the API URL), without a final slash."""
    try:
        from prefect.settings import PREFECT_UI_URL

        return (PREFECT_UI_URL.value() or "").rstrip("/") or None
    except Exception:  # noqa: BLE001 - no usable Prefect settings: no URL
        return None


def artifact_url(artifact_id: UUID | str | None, *, key: str) -> str:
    """Where the Prefect UI shows an artifact: ``<PREFECT_UI_URL>/artifacts/artifact/<id>``.

    ``<PREFECT_UI_URL>/artifacts/key/<key>`` (its latest version) when the id is unknown;
    the bare key when Prefect knows no UI URL (ephemeral API without a server).
    """
    ui_url = prefect_ui_url()
    if not ui_url:
        return artifact_key(key)
    if artifact_id:
        return f"{ui_url}/artifacts/artifact/{artifact_id}"
    return f"{ui_url}/artifacts/key/{artifact_key(key)}"


@dataclass(frozen=True)
class ArtifactTarget:
    """Where artifacts of the run executing here go: its Prefect client (connected already)
    and the task / flow run they are linked to. Taken in the run's context, it can be used
    from another thread."""

    client: Any
    task_run_id: UUID | None
    flow_run_id: UUID | None


def artifact_target() -> ArtifactTarget | None:
    """The :class:`ArtifactTarget` of the task or flow run executing here, or None outside one.

    Prefect's own ``create_*_artifact`` build a new client per call (a new HTTP connection
    and TLS context, tens of milliseconds); the run's client is reused instead.
    """
    from prefect.context import FlowRunContext, TaskRunContext
    from prefect.utilities.context import get_task_and_flow_run_ids

    for ctx in (TaskRunContext.get(), FlowRunContext.get()):
        client = getattr(ctx, "client", None) if ctx is not None else None
        if client is not None:
            return ArtifactTarget(client, *get_task_and_flow_run_ids())
    return None


def _create_artifact(kind: str, data: str, *, key: str, description: str | None, target: ArtifactTarget | None) -> Any:
    """Create an artifact with the run's client: its id, or (an async run's client) a coroutine
    resolving to it; ``NotImplemented`` outside a run (Prefect's own function is used then)."""
    target = target or artifact_target()
    if target is None:
        return NotImplemented
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.actions import ArtifactCreate

    request = ArtifactCreate(type=kind, key=artifact_key(key), description=description, data=data,
                             task_run_id=target.task_run_id, flow_run_id=target.flow_run_id)  # fmt: skip
    if isinstance(target.client, SyncPrefectClient):
        return target.client.create_artifact(artifact=request).id
    return _created_id(target.client.create_artifact(artifact=request), key)


async def _created_id(created: Any, key: str) -> UUID | None:
    try:
        return (await created).id  # type: ignore[no-any-return]
    except Exception as exc:  # noqa: BLE001 - publishing never fails the flow
        logger.warning("trackflow: could not publish artifact %r: %s", key, exc)
        return None


def publish_markdown(
    markdown: str, *, key: str, description: str | None = None, target: ArtifactTarget | None = None
) -> UUID | None:
    """Create a markdown artifact (versions accumulate under ``key``); its id.

    ``target``: the run to publish for (default: the run executing here). Inside an async
    run this returns a coroutine (resolving to the id) to be awaited.
    """
    try:
        created = _create_artifact("markdown", markdown, key=key, description=description, target=target)
        if created is not NotImplemented:
            return created  # type: ignore[no-any-return]
        from prefect.artifacts import create_markdown_artifact

        # Prefect's async_dispatch: a UUID here; in an async context it would return a coroutine
        return create_markdown_artifact(  # type: ignore[return-value]
            markdown=markdown, key=artifact_key(key), description=description
        )
    except Exception as exc:  # noqa: BLE001 - publishing never fails the flow
        logger.warning("trackflow: could not publish markdown artifact %r: %s", key, exc)
        return None


def publish_table(
    rows: Sequence[Mapping[str, Any]], *, key: str, description: str | None = None, target: ArtifactTarget | None = None
) -> UUID | None:
    """Create a table artifact from a list of records (NaN shown empty); its id (as publish_markdown)."""
    try:
        table = [dict(r) for r in rows]
        created = _create_artifact("table", json.dumps(_without_nan(table)), key=key, description=description,
                                   target=target)  # fmt: skip
        if created is not NotImplemented:
            return created  # type: ignore[no-any-return]
        from prefect.artifacts import create_table_artifact

        return create_table_artifact(  # type: ignore[return-value]  # as in publish_markdown
            table=table, key=artifact_key(key), description=description
        )
    except Exception as exc:  # noqa: BLE001
        logger.warning("trackflow: could not publish table artifact %r: %s", key, exc)
        return None


def _without_nan(item: Any) -> Any:
    """NaN as None (JSON has no NaN), as Prefect's table artifacts do."""
    if isinstance(item, list):
        return [_without_nan(v) for v in item]
    if isinstance(item, dict):
        return {k: _without_nan(v) for k, v in item.items()}
    if isinstance(item, float) and math.isnan(item):
        return None
    return item


def publish_event(
    event: str,
    *,
    resource_id: str,
    resource: Mapping[str, str] | None = None,
    related: Sequence[Mapping[str, str]] = (),
    payload: Mapping[str, Any] | None = None,
) -> Any:
    """Emit a Prefect event ``event`` about ``resource_id`` with related resources."""
    try:
        from prefect.events import emit_event

        return emit_event(
            event=event,
            resource={"prefect.resource.id": resource_id, **(resource or {})},
            related=[dict(r) for r in related],
            payload=dict(payload or {}),
        )
    except Exception as exc:  # noqa: BLE001
        logger.warning("trackflow: could not emit event %r: %s", event, exc)
        return None
