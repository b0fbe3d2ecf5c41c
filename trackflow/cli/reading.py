"""The read-only commands' fast read path (see :mod:`trackflow.tracking.store.read_path`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trackflow.tracking.store.read_path import ReadPath

__all__ = ["open_reader", "registry_reader"]


def open_reader() -> ReadPath | None:
    """A read path on the configured tracking database, or None when the command must take
    the full path (the ``Client``): a database to create or migrate, a spool to replay."""
    from trackflow.settings import get_settings
    from trackflow.tracking.store.read_path import open_read_path

    settings = get_settings()
    return open_read_path(settings.tracking_uri, home=settings.home, busy_timeout=settings.sqlite_busy_timeout)


@contextmanager
def registry_reader() -> Iterator[Any]:
    """What answers the registry's reads (``get_model``, ``list_versions``, ``history``,
    ``deployments``): a :class:`~trackflow.registry.read_view.RegistryReadView` on the read
    path when it can answer, else the registry client."""
    reader = open_reader()
    if reader is None:
        from trackflow.tracking.client import Client

        yield Client().registry
        return
    from trackflow.registry.read_view import RegistryReadView

    with reader:
        yield RegistryReadView(reader)
