"""Exploration tests track into a fresh TRACKFLOW_HOME each; the Prefect ones also use the session harness."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _tracking(tracking_home: Path) -> Iterator[Path]:
    """A fresh embedded store and artifact root for each test."""
    yield tracking_home
