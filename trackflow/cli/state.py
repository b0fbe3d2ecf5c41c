"""Options shared by every command (set by the top-level callback)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CliState", "state"]


@dataclass
class CliState:
    """Global flags of one ``trackflow`` invocation."""

    debug: bool = False


state = CliState()
