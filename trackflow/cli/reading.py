"""The listing commands' fast read path (see :mod:`trackflow.tracking.store.read_path`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trackflow.tracking.store.read_path import ReadPath

__all__ = ["open_reader"]


def open_reader() -> ReadPath | None:
    """A read path on the configured tracking database, or None when the command must take
    the full path (the ``Client``): a database to create or migrate, a spool to replay."""
    from trackflow.settings import get_settings
    from trackflow.tracking.store.read_path import open_read_path

    settings = get_settings()
    return open_read_path(settings.tracking_uri, home=settings.home, busy_timeout=settings.sqlite_busy_timeout)
