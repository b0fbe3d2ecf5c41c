"""Real tracked flows that seed a store for the compare, lineage and registry pages of ``trackflow ui``.

:func:`seed` runs the flow ``ui-train`` three times (``lr`` 0.5 then 2.0 on one CSV, then 2.0
again after the CSV changed), each logging
``loss`` at :data:`STEPS` steps on the flow run, reading the CSV in a task, training a
LogisticRegression and registering it as :data:`MODEL` (with an input example); the second
version is moved to staging, the second promoted to production with a reason and decision
values, aliased ``@champion`` and recorded as served. An exploration run in
:data:`EXPLORATION` logs a finding (a DataFrame and a metric as evidence) that informs the
third flow run; every flow run notes its decision on ``lr``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import trackflow as tf
from trackflow import flow, task

__all__ = ["STEPS", "MODEL", "EXPERIMENT", "EXPLORATION", "FINDING", "Seeded", "seed", "seeded_home", "home_env", "home_client", "seeded_fixture", "web_fixture"]

STEPS = 50
MODEL = "ui-churn"
EXPERIMENT = "ui-explore"
EXPLORATION = "ui-exploration"
FINDING = "spend separates churners from the others"
FEATURES = ["age", "spend"]


@task
def load(path: str) -> pd.DataFrame:
    return pd.read_csv(path)


@task
def train_and_register(frame: pd.DataFrame, lr: float) -> float:
    """Fit, then register with an input example (a model this task never returns is packaged here)."""
    from trackflow.tasks import register_and_stage

    model = LogisticRegression(C=lr).fit(frame[FEATURES], frame["churned"])
    register_and_stage(model, MODEL, input_example=frame[FEATURES].head(3))
    return float(model.score(frame[FEATURES], frame["churned"]))


@flow(name="ui-train", experiment=EXPERIMENT)
def ui_train(path: str, lr: float, solver: str = "lbfgs") -> dict[str, float]:
    for step in range(STEPS):
        tf.log_metric("loss", 1.0 / (1.0 + step * lr), step=step)
    tf.note(f"learning rate {lr}: the loss curve flattens early", kind="decision")
    frame = load(path)
    return {"accuracy": train_and_register(frame, lr)}


@dataclass(frozen=True)
class Seeded:
    """What :func:`seed` made: the three flow runs (oldest first), the CSV, the exploration run and its finding."""

    run_ids: list[str]
    csv: Path
    exploration_id: str = ""
    finding_id: int = 0


def seed(folder: Path) -> Seeded:
    """Run ``ui-train`` three times into the current TRACKFLOW_HOME, stage and promote, record a deployment."""
    csv = folder / "churn.csv"
    frame = pd.DataFrame({"age": [22, 41, 35, 58, 27, 63, 33, 49], "spend": [1.5, 8.0, 2.5, 9.1, 1.1, 7.4, 2.0, 6.6],
                          "churned": [0, 1, 0, 1, 0, 1, 0, 1]})  # fmt: skip
    frame.to_csv(csv, index=False)
    ui_train(str(csv), 0.5)
    ui_train(str(csv), 2.0)
    frame.assign(spend=frame["spend"] * 2).to_csv(csv, index=False)  # the data changes under the same path
    ui_train(str(csv), 2.0)
    client = tf.Client()
    runs = sorted((r for r in client.search_runs(EXPERIMENT) if r.kind == "flow"), key=lambda r: r.start_time)
    registry = client.registry
    registry.transition(MODEL, 1, "staging", reason="first candidate")
    registry.transition(MODEL, 2, "production", reason="better loss curve", details={"policy": "loss < 0.1", "loss": 0.02})
    registry.set_alias(MODEL, "champion", 2)
    registry.record_deployment(MODEL, 2, deployment_name="churn-api", target="http://127.0.0.1:9/invocations")
    exploration = client.create_run(EXPLORATION, run_name="explore-churn", kind="exploration")
    client.log_metric(exploration.id, "spend_gap", 5.6)
    client.note(exploration.id, "a first look at eight customers", kind="note")
    finding = client.note(exploration.id, FINDING, kind="finding", evidence=[frame.head(4), "metrics.spend_gap"],
                          informs=[runs[2].id])
    client.end_run(exploration.id, "FINISHED")
    return Seeded(run_ids=[r.id for r in runs], csv=csv, exploration_id=exploration.id, finding_id=finding.id)



_SEEDED: dict[str, tuple[Path, Seeded]] = {}


def seeded_home(folder: Path) -> tuple[Path, Seeded]:
    """A TRACKFLOW_HOME seeded once per test session by :func:`seed` (needs the Prefect harness).

    The environment is restored afterwards: tests open the store with :func:`home_client`.
    """
    import os

    from trackflow.tracking.stores import close_stores

    if "home" not in _SEEDED:
        home = folder / "trackflow-home"
        saved = {k: os.environ.get(k) for k in ("TRACKFLOW_HOME", "TRACKFLOW_TRACKING_URI", "TRACKFLOW_ARTIFACT_ROOT")}
        os.environ["TRACKFLOW_HOME"] = str(home)
        os.environ.pop("TRACKFLOW_TRACKING_URI", None)
        os.environ.pop("TRACKFLOW_ARTIFACT_ROOT", None)
        try:
            seeded = seed(folder)
        finally:
            close_stores()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        _SEEDED["home"] = (home, seeded)
    return _SEEDED["home"]


def home_env(home: Path) -> dict[str, str]:
    """The environment that points trackflow (and ``trackflow ui``) at ``home``."""
    return {"TRACKFLOW_HOME": str(home), "TRACKFLOW_TRACKING_URI": f"sqlite:///{home / 'trackflow.db'}",
            "TRACKFLOW_ARTIFACT_ROOT": str(home / "artifacts")}  # fmt: skip


def home_client(home: Path) -> tf.Client:
    """A Client on the seeded home's database and artifacts."""
    env = home_env(home)
    return tf.Client(env["TRACKFLOW_TRACKING_URI"], artifact_root=env["TRACKFLOW_ARTIFACT_ROOT"])


@pytest.fixture(scope="module", name="seeded")
def seeded_fixture(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Seeded]:
    """The seeded home and what :func:`seed` made (fixture ``seeded``: import ``seeded_fixture`` into a test module)."""
    return seeded_home(tmp_path_factory.mktemp("ui-explore"))


@pytest.fixture(name="web")
def web_fixture(seeded: tuple[Path, Seeded]) -> Iterator[Any]:
    """A FastAPI TestClient of the ui app over the seeded store (fixture ``web``: import ``web_fixture`` and ``seeded_fixture``)."""
    from fastapi.testclient import TestClient

    from trackflow.ui.app import create_app

    with TestClient(create_app(home_client(seeded[0]))) as http:
        yield http
