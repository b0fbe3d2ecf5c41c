"""The one exception hierarchy of trackflow.

Every error a user can cause raises a subclass of :class:`TrackflowError`. Messages say
what was wrong and, through ``hint``, what to do about it. The CLI prints ``str(error)``
and the hint, never a traceback (unless ``--debug``).
"""

from __future__ import annotations

__all__ = [
    "TrackflowError",
    "InvalidInputError",
    "NotFoundError",
    "AlreadyExistsError",
    "ConflictError",
    "SchemaVersionError",
    "StoreError",
    "IntegrityError",
    "UnsafeModelError",
]


class TrackflowError(Exception):
    """Root of every error trackflow raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InvalidInputError(TrackflowError, ValueError):
    """An argument was malformed; nothing was written."""


class NotFoundError(TrackflowError, LookupError):
    """The thing asked for does not exist."""


class AlreadyExistsError(TrackflowError):
    """A thing with that identity exists already."""


class ConflictError(TrackflowError):
    """The request contradicts what is stored (e.g. a param logged with another value)."""


class SchemaVersionError(TrackflowError):
    """The database schema is older or newer than this version of trackflow understands."""


class StoreError(TrackflowError):
    """The tracking store could not complete an operation (database unreachable, locked...)."""


class IntegrityError(TrackflowError):
    """Stored content does not match its recorded hash (tampered or truncated)."""


class UnsafeModelError(TrackflowError):
    """A model payload would need unsafe deserialization that was not explicitly allowed."""
