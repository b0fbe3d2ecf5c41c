"""The dashboard tests use the same fixtures as the flow tests (Prefect harness, fresh tracking home)."""

from __future__ import annotations

from flows.conftest import _prefect_and_tracking, churn_csv

__all__ = ["_prefect_and_tracking", "churn_csv"]
