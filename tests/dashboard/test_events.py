"""The ``trackflow.run.*`` event: at most 100 related resources, every one named, and Prefect takes it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

import trackflow as tf
from trackflow import flow, task
from trackflow.dashboard import events
from trackflow.tracking.entities import Dataset, Run, RunDataset, RunStatus


@dataclass
class FakeSummary:
    """What build_run_event reads of a RunSummary."""

    run: Run
    children: list[Run] = field(default_factory=list)
    datasets: list[tuple[Run, RunDataset]] = field(default_factory=list)


def _run(name: str = "train-1", prefect_name: str | None = "clever-fox", status: RunStatus = RunStatus.FINISHED) -> Run:
    now = datetime.now(timezone.utc)
    return Run(id="r1", experiment_id="e1", experiment_name="churn", name=name, status=status, start_time=now,
               end_time=now, kind="flow", prefect_name=prefect_name, metrics={"acc": 0.9, "bad": float("nan")})  # fmt: skip


def _used(index: int, *, fingerprint: str | None = None, role: str = "output") -> RunDataset:
    fp = fingerprint or f"sha256:{index:064x}"
    dataset = Dataset(id=f"d{index}", fingerprint=fp, name=f"frame-{index}", kind="dataframe", schema=[], num_rows=3,
                      num_columns=1, profile={}, source=None, size_bytes=24, created_at=datetime.now(timezone.utc))  # fmt: skip
    return RunDataset(dataset=dataset, name=f"make.output.{index}", role=role)


def test_small_event_lists_everything_with_names() -> None:
    run = _run()
    child = _run(name="make-0", prefect_name="make-0")
    datasets = [(child, _used(0)), (child, _used(1)), (run, _used(0, role="input"))]  # the same dataset twice
    built = events.build_run_event(FakeSummary(run, [child], datasets), flow_run_id="fr-1")

    assert built["event"] == "trackflow.run.finished" and built["resource_id"] == "trackflow.run.r1"
    related = built["related"]
    assert [r["prefect.resource.role"] for r in related] == ["flow-run", "experiment", "dataset", "dataset"]
    assert related[0] == {"prefect.resource.id": "prefect.flow-run.fr-1", "prefect.resource.role": "flow-run",
                          "prefect.resource.name": "clever-fox"}  # fmt: skip
    assert related[1]["prefect.resource.name"] == "churn"
    assert [r["prefect.resource.name"] for r in related[2:]] == ["make.output.0", "make.output.1"]
    assert all(r["prefect.resource.name"] for r in related)
    assert built["payload"]["datasets_not_listed"] == 0 and built["payload"]["datasets"] == 2
    assert built["payload"]["metrics"] == {"acc": 0.9} and built["payload"]["task_runs"] == 1


def test_flow_run_name_falls_back_to_the_run_name() -> None:
    built = events.build_run_event(FakeSummary(_run(prefect_name=None, status=RunStatus.FAILED)), flow_run_id="fr-1")
    assert built["event"] == "trackflow.run.failed"
    assert built["related"][0]["prefect.resource.name"] == "train-1"
    no_flow_run = events.build_run_event(FakeSummary(_run()), flow_run_id=None)
    assert [r["prefect.resource.role"] for r in no_flow_run["related"]] == ["experiment"]


def test_many_datasets_are_capped_flow_run_and_experiment_first() -> None:
    run = _run()
    datasets = [(run, _used(i)) for i in range(150)] + [(run, _used(7, role="input"))]
    built = events.build_run_event(FakeSummary(run, [], datasets), flow_run_id="fr-1")
    related = built["related"]
    assert len(related) <= events.MAX_RELATED_RESOURCES - events.CONTEXT_RESERVE
    assert [r["prefect.resource.role"] for r in related[:2]] == ["flow-run", "experiment"]
    listed = [r["prefect.resource.id"] for r in related[2:]]
    assert len(listed) == len(set(listed)) == len(related) - 2
    assert listed == [f"trackflow.dataset.sha256:{i:064x}" for i in range(len(listed))]  # in order, no gaps
    assert built["payload"]["datasets"] == 150
    assert built["payload"]["datasets_not_listed"] == 150 - len(listed)
    assert all("prefect.resource.name" in r for r in related)

    exact = events.build_run_event(FakeSummary(run, [], datasets), flow_run_id="fr-1", max_related=100)
    assert len(exact["related"]) == 100 and exact["payload"]["datasets_not_listed"] == 52


def test_the_event_of_the_largest_allowed_size_is_valid_for_prefect() -> None:
    from prefect.events import Event

    run = _run()
    built = events.build_run_event(FakeSummary(run, [], [(run, _used(i)) for i in range(300)]), flow_run_id="fr-1",
                                   max_related=events.MAX_RELATED_RESOURCES)  # fmt: skip
    Event(event=built["event"], resource={"prefect.resource.id": built["resource_id"], **built["resource"]},
          related=built["related"], payload=built["payload"])  # fmt: skip


# ---- end to end: a flow with 150 datasets, its event read back from the Prefect API ------

_PER_TASK = 75


@task
def make_frames(offset: int) -> dict[str, np.ndarray]:
    return {f"a{i}": np.arange(4, dtype=float) + offset + i for i in range(_PER_TASK)}


@flow(name="many-datasets", experiment="many-datasets")
def many_datasets() -> int:
    first, second = make_frames(0), make_frames(10_000)
    return len(first) + len(second)


def _read_events(name: str, resource_id: str, timeout: float = 30.0) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    deadline = time.monotonic() + timeout
    while True:
        try:
            with get_client(sync_client=True) as client:
                page = client.read_events(
                    filter=EventFilter(event=EventNameFilter(name=[name]), resource=EventResourceFilter(id=[resource_id])),
                    limit=10,
                )  # fmt: skip
            if page.events or time.monotonic() > deadline:
                return list(page.events)
        except Exception:  # noqa: BLE001 - SQLite "database is locked" answers 503 for a moment
            if time.monotonic() > deadline:
                raise
        time.sleep(1)


def test_flow_with_150_datasets_emits_its_event() -> None:
    assert many_datasets() == 2 * _PER_TASK
    client = tf.Client()
    (run,) = client.search_runs("many-datasets", "attributes.kind = 'flow'")
    children = client.get_child_runs(run.id)
    fingerprints = {d.dataset.fingerprint for c in children for d in client.get_datasets(c.id)}
    assert len(fingerprints) == 2 * _PER_TASK

    found = _read_events(events.FINISHED_EVENT, f"trackflow.run.{run.id}")
    assert len(found) == 1, "the trackflow.run.finished event never reached the Prefect API"
    event = found[0]
    related = list(event.related)
    assert len(related) <= events.MAX_RELATED_RESOURCES
    ours = [r for r in related if r.id.startswith("trackflow.dataset.")]
    assert ours and len(ours) < len(fingerprints)
    assert event.payload["datasets_not_listed"] == len(fingerprints) - len(ours)
    assert related[0].id == f"prefect.flow-run.{run.flow_run_id}" and related[0].role == "flow-run"
    assert related[0].name == run.prefect_name
    assert related[1].role == "experiment" and related[1].name == "many-datasets"
    assert all(r.name for r in related if r.role in ("flow-run", "experiment", "dataset"))
    assert {r.id.removeprefix("trackflow.dataset.") for r in ours} <= fingerprints
    assert any(r.role == "flow" for r in related), "no room was left for Prefect's own run context"
