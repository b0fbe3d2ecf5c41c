"""A store for the ui tests, written by real tracked Prefect flows (and a registered model).

``seed_ui_store(client)`` runs :func:`training_flow` a few times (params differ, a ``loss``
logged at 50 steps, text/JSON/CSV/PNG artifacts, a dataset, notes), one failing run, and
registers a model from the best run. It must run inside the Prefect test harness with
TRACKFLOW_* pointing at the store ``client`` reads.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

import trackflow as tf
from trackflow import flow, task
from trackflow.tracking.client import Client

__all__ = ["EXPERIMENT", "SeededStore", "seed_ui_store", "tiny_png", "training_flow", "HISTORY_STEPS"]

EXPERIMENT = "ui-demo"
HISTORY_STEPS = 50


def tiny_png(width: int = 8, height: int = 6) -> bytes:
    """A valid RGB PNG of a colour gradient (no imaging library needed)."""
    rows = b"".join(b"\x00" + bytes(v for x in range(width) for v in (x * 30 % 256, y * 40 % 256, 128))
                    for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@task
def prepare(rows: int) -> pd.DataFrame:
    """A small table; logged as this task's output dataset."""
    rng = np.random.default_rng(rows)
    frame = pd.DataFrame({"x": rng.normal(size=rows), "y": rng.integers(0, 2, size=rows)})
    tf.log_dataset(frame, "features", role="output")
    return frame


@task
def fit(frame: pd.DataFrame, lr: float, depth: int) -> float:
    """'Train': a loss curve at 50 steps and a final auc that depends on lr and depth."""
    tf.log_params({"optimizer": "sgd"})
    for step in range(HISTORY_STEPS):
        tf.log_metric("loss", 1.0 / (1.0 + lr * step * depth), step=step)
    auc = round(0.6 + 0.05 * depth + lr / 10, 4)
    tf.log_metric("auc", auc)
    return auc


@flow(name="ui-training", experiment=EXPERIMENT)
def training_flow(lr: float = 0.1, depth: int = 3, fail: bool = False) -> float:
    """Prepare, fit, and leave artifacts and notes on the flow run."""
    frame = prepare(40 + depth)
    auc = fit(frame, lr, depth)
    if fail:
        raise RuntimeError("deliberate failure for the ui tests")
    tf.log_metric("score", round(auc * 100, 2))  # only on finished runs (auc also rolls up from the fit task)
    tf.log_text(f"lr={lr} depth={depth}\n<script>alert('not run')</script>\n", "report/summary.txt")
    tf.log_dict({"lr": lr, "depth": depth, "auc": auc}, "report/metrics.json")
    tf.log_text("step,loss\n0,1.0\n1,0.5\n2,0.25\n", "report/curve.csv")
    tf.note(f"depth {depth} chosen for the {'deep' if depth > 3 else 'shallow'} baseline", kind="decision")
    tf.set_tag("team", "growth" if depth % 2 else "risk")
    return auc


@dataclass
class SeededStore:
    """Ids of what :func:`seed_ui_store` wrote."""

    flow_runs: list[str] = field(default_factory=list)
    failed_run: str | None = None
    best_run: str | None = None
    model_name: str = "ui-demo-model"


def seed_ui_store(client: Client, *, runs: int = 4) -> SeededStore:
    """Run the training flow ``runs`` times plus one failing run; register and stage the best run's model."""
    import tempfile
    from pathlib import Path

    from sklearn.linear_model import LogisticRegression

    seeded = SeededStore()
    for i in range(runs):
        training_flow(lr=round(0.05 * (i + 1), 2), depth=2 + i)
    try:
        training_flow(lr=0.5, depth=9, fail=True)
    except RuntimeError:
        pass
    client.flush()
    flows = client.search_runs(EXPERIMENT, "attributes.kind = 'flow'", order_by="attributes.start_time ASC")
    seeded.flow_runs = [r.id for r in flows if r.status.value == "FINISHED"]
    seeded.failed_run = next(r.id for r in flows if r.status.value == "FAILED")
    best = max((r for r in flows if r.status.value == "FINISHED"), key=lambda r: r.metrics["auc"])
    seeded.best_run = best.id
    with tempfile.TemporaryDirectory() as folder:
        image = Path(folder) / "roc.png"
        image.write_bytes(tiny_png())
        client.log_artifact(best.id, image, "plots")
    model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1]))
    version = client.registry.register_model(model, seeded.model_name, run_id=best.id,
                                             input_example=pd.DataFrame({"x": [0.5]}))
    client.registry.transition(seeded.model_name, version.version, "staging", reason="best auc of the ui demo")
    return seeded
