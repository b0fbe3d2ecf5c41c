"""Safe publishing to Prefect: artifacts and events that never fail the user's flow.

Every function here logs a warning and returns None when Prefect cannot take the
publication (no API, server down, outside a run for artifacts that need one).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

__all__ = ["artifact_key", "artifact_url", "prefect_ui_url", "publish_markdown", "publish_table", "publish_event"]

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


def publish_markdown(markdown: str, *, key: str, description: str | None = None) -> UUID | None:
    """Create a markdown artifact (versions accumulate under ``key``)."""
    try:
        from prefect.artifacts import create_markdown_artifact

        # Prefect's async_dispatch: a UUID here; in an async context it would return a coroutine
        return create_markdown_artifact(  # type: ignore[return-value]
            markdown=markdown, key=artifact_key(key), description=description
        )
    except Exception as exc:  # noqa: BLE001 - publishing never fails the flow
        logger.warning("trackflow: could not publish markdown artifact %r: %s", key, exc)
        return None


def publish_table(rows: Sequence[Mapping[str, Any]], *, key: str, description: str | None = None) -> UUID | None:
    """Create a table artifact from a list of records."""
    try:
        from prefect.artifacts import create_table_artifact

        return create_table_artifact(  # type: ignore[return-value]  # as in publish_markdown
            table=[dict(r) for r in rows], key=artifact_key(key), description=description
        )
    except Exception as exc:  # noqa: BLE001
        logger.warning("trackflow: could not publish table artifact %r: %s", key, exc)
        return None


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
