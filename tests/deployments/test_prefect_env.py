"""Prefect settings for commands that run flows: a long server startup timeout, no analytics."""

from __future__ import annotations

import os

import pytest

from trackflow.deployments.prefect_env import (
    ANALYTICS_ENV,
    DEFAULT_STARTUP_TIMEOUT,
    STARTUP_TIMEOUT_ENV,
    ensure_api,
    prefect_defaults,
)


def test_defaults_apply_only_where_the_user_set_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.settings import PREFECT_SERVER_ANALYTICS_ENABLED, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    monkeypatch.delenv(STARTUP_TIMEOUT_ENV, raising=False)
    monkeypatch.setenv(ANALYTICS_ENV, "true")  # the user's choice wins
    with prefect_defaults() as applied:
        assert applied == {STARTUP_TIMEOUT_ENV: str(DEFAULT_STARTUP_TIMEOUT)}
        assert os.environ[STARTUP_TIMEOUT_ENV] == "180"
        assert PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value() == DEFAULT_STARTUP_TIMEOUT
    assert STARTUP_TIMEOUT_ENV not in os.environ and os.environ[ANALYTICS_ENV] == "true"
    monkeypatch.setenv(STARTUP_TIMEOUT_ENV, "600")
    monkeypatch.delenv(ANALYTICS_ENV)
    with prefect_defaults() as applied:
        assert applied == {ANALYTICS_ENV: "false"}
        assert PREFECT_SERVER_ANALYTICS_ENABLED.value() is False


@pytest.mark.usefixtures("prefect_harness")
def test_a_configured_api_is_used_as_is() -> None:
    said: list[str] = []
    api = ensure_api(said.append)
    assert not api.ephemeral and api.url.endswith("/api") and said == []
