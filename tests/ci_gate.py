"""Tests that need something from the machine skip locally and fail on CI.

CI (``CI=true``, set by ``.ci/run``) promises PostgreSQL, Chromium and an MLflow
interpreter; a test that cannot find one there fails instead of skipping silently.
Importable as ``from ci_gate import unavailable`` from every test folder (see cli_helpers).
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def on_ci() -> bool:
    """True when the ``CI`` environment variable says so (``true``/``1``/``yes``)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def unavailable(reason: str) -> NoReturn:
    """Skip the current test because of ``reason``; on CI fail it instead."""
    if on_ci():
        pytest.fail(f"{reason} - CI=true, so CI must provide it (see .ci/run)", pytrace=False)
    pytest.skip(reason)
