"""Every test here runs real Prefect flows on the session's ephemeral API, tracking into a fresh home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _prefect_and_tracking(prefect_harness: None, tracking_home: Path) -> Iterator[Path]:
    """The session-wide Prefect harness plus a fresh TRACKFLOW_HOME for each test."""
    yield tracking_home


@pytest.fixture
def churn_csv(tmp_path: Path) -> Path:
    """A small binary-classification table (from scikit-learn's breast cancer data) as CSV."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    small = frame[["mean radius", "mean texture", "mean perimeter", "mean smoothness", "target"]].iloc[:200]
    path = tmp_path / "churn.csv"
    small.rename(columns={"target": "churned"}).to_csv(path, index=False)
    return path


