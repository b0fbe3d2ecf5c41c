"""How long a tracking database has been unreachable, per URI and process.

Writes from a tracked flow or task never fail the user's code because the tracking
database is down: they are retried for ``TRACKFLOW_STORE_RETRY_SECONDS`` (default 60 s,
0 = no retry) and then spooled (see :mod:`trackflow.tracking.spool`). The window is one
per outage, not one per write: the clock starts at the first failed write and stops at the
next successful one, so once a database has been down longer than the window every write
is spooled at once instead of each waiting the whole window again.
"""

from __future__ import annotations

import threading
import time

__all__ = ["Outage", "outage_for"]

_MAX_DELAY = 5.0


class Outage:
    """The failure clock of one tracking URI in this process (thread-safe)."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._since: float | None = None
        self._lock = threading.Lock()
        self.warned = False
        """True once this outage was reported (one warning per outage, not per retry)."""
        self._spooled = False

    def failed(self) -> None:
        """A write failed because the database is unreachable (starts the clock)."""
        with self._lock:
            if self._since is None:
                self._since = time.monotonic()

    def succeeded(self) -> None:
        """A write went through: the outage (if any) is over."""
        with self._lock:
            self._since = None
            self.warned = False
            self._spooled = False

    def first_spooling(self) -> bool:
        """True for the first spooling of this outage (the one that logs a WARNING)."""
        with self._lock:
            first, self._spooled = not self._spooled, True
            return first

    @property
    def failing(self) -> bool:
        """True while the last write failed."""
        return self._since is not None

    @property
    def elapsed(self) -> float:
        """Seconds since the first failure of this outage (0 when there is none)."""
        since = self._since
        return 0.0 if since is None else time.monotonic() - since

    @property
    def expired(self) -> bool:
        """True when the database has been unreachable for the whole retry window."""
        return self._since is not None and self.elapsed >= self.window

    def next_delay(self, delay: float) -> float:
        """How long to wait before the next try: ``delay`` doubled, capped, within the window."""
        return max(0.0, min(delay, _MAX_DELAY, self.window - self.elapsed))


_outages: dict[str, Outage] = {}
_lock = threading.Lock()


def outage_for(uri: str, window: float) -> Outage:
    """The process-wide clock of ``uri`` (its window follows the latest setting)."""
    with _lock:
        outage = _outages.get(uri)
        if outage is None:
            outage = _outages[uri] = Outage(window)
        outage.window = window
        return outage
