"""One store for the ui tests, written by real tracked Prefect flows (the session's harness)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from trackflow.tracking.client import Client
from ui.seeding import SeededStore, seed_ui_store


@dataclass
class UiStore:
    """A seeded SQLite store: its Client, what was seeded, and the TRACKFLOW_* environment that reaches it."""

    client: Client
    seeded: SeededStore
    env: dict[str, str]
    home: Path


@pytest.fixture(scope="session")
def ui_store(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiStore]:
    """A SQLite store seeded once per session by :func:`ui.seeding.seed_ui_store` (shared by the ui test modules).

    TRACKFLOW_* point at it only while the flows run; afterwards the tests read it through
    ``client`` (bound to it) or pass ``env`` to the processes they start.
    """
    from trackflow.tracking.stores import close_stores

    home = tmp_path_factory.mktemp("ui-store")
    env = {
        "TRACKFLOW_HOME": str(home),
        "TRACKFLOW_TRACKING_URI": f"sqlite:///{home / 'trackflow.db'}",
        "TRACKFLOW_ARTIFACT_ROOT": str(home / "artifacts"),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        client = Client()
        seeded = seed_ui_store(client)
    try:
        yield UiStore(client=client, seeded=seeded, env=env, home=home)
    finally:
        close_stores()
