"""What a tracked flow run publishes into Prefect: report and table artifacts, events."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from flows.pipeline import pipeline
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
)

import trackflow as tf
from trackflow import flow, task
from trackflow.dashboard import events, run_report


def _artifacts(key: str, flow_run_id: str) -> list[Any]:
    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]), flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )


def _record_events(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    emitted: list[dict[str, Any]] = []
    real = events.publish_event

    def spy(event: str, **kwargs: Any) -> Any:
        emitted.append({"event": event, **kwargs})
        return real(event, **kwargs)

    monkeypatch.setattr(events, "publish_event", spy)
    return emitted


def test_flow_run_publishes_report_table_and_event(churn_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    emitted = _record_events(monkeypatch)
    result = pipeline(str(churn_csv), n_estimators=4)
    client = tf.Client()
    (flow_run,) = client.search_runs("churn", "attributes.kind = 'flow'")

    (report,) = _artifacts("trackflow-run-report-pipeline", flow_run.flow_run_id)
    markdown = report.data
    assert report.type == "markdown" and "```mermaid\ngraph TD" in markdown
    assert "](data:image/svg+xml;base64," in markdown  # the diagram as an image: both Prefect UIs render it
    assert f"{result['accuracy']:.6g}" in markdown and "training_roc_auc" in markdown
    assert "Chose RF over GBM" in markdown and "load.output" in markdown and "runs:/" in markdown
    assert "|part_of|" not in markdown and "subgraph" in markdown and "mean radius" in markdown  # groups, profiles

    (table,) = _artifacts("trackflow-task-metrics-pipeline", flow_run.flow_run_id)
    rows = table.data if isinstance(table.data, list) else __import__("json").loads(table.data)
    by_run = {row["run"]: row for row in rows}
    assert len(rows) == 4 and all(row["status"] == "FINISHED" for row in rows)
    evaluate = next(row for name, row in by_run.items() if name.startswith("evaluate"))
    assert evaluate["accuracy"] == result["accuracy"]

    (event,) = [e for e in emitted if e["resource_id"] == f"trackflow.run.{flow_run.id}"]
    assert event["event"] == "trackflow.run.finished" and event["payload"]["metrics"]["accuracy"] == result["accuracy"]
    related = {r["prefect.resource.id"]: r["prefect.resource.role"] for r in event["related"]}
    assert related[f"prefect.flow-run.{flow_run.flow_run_id}"] == "flow-run"
    fingerprints = {d.dataset.fingerprint for c in client.get_child_runs(flow_run.id) for d in client.get_datasets(c.id)}
    assert {f"trackflow.dataset.{fp}" for fp in fingerprints} <= set(related)
    assert all(role == "dataset" for rid, role in related.items() if rid.startswith("trackflow.dataset."))


@task
def broken(x: int) -> int:
    raise RuntimeError("nope")


@flow(name="doomed")
def doomed() -> int:
    return broken(1)


def test_failed_flow_emits_failed_event_and_still_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    emitted = _record_events(monkeypatch)
    with pytest.raises(RuntimeError):
        doomed()
    (flow_run,) = tf.Client().search_runs("doomed", "attributes.kind = 'flow'")
    names = [e["event"] for e in emitted if e["resource_id"] == f"trackflow.run.{flow_run.id}"]
    assert names == ["trackflow.run.failed"]
    (report,) = _artifacts("trackflow-run-report-doomed", flow_run.flow_run_id)
    assert "FAILED" in report.data and "RuntimeError: nope" in report.data


def test_emit_event_reaches_prefect() -> None:
    @flow(name="evented")
    def evented() -> dict[str, float]:
        return {"score": 1.0}

    evented()
    (flow_run,) = tf.Client().search_runs("evented", "attributes.kind = 'flow'")
    sent = events.emit_run_event(run_report.collect_summary(flow_run.id), flow_run_id=flow_run.flow_run_id)
    assert sent is not None and sent.event == "trackflow.run.finished"
    assert sent.resource.id == f"trackflow.run.{flow_run.id}"
    assert any(r.id == f"prefect.flow-run.{flow_run.flow_run_id}" and r.role == "flow-run" for r in sent.related)


def test_async_flow_publishes_too() -> None:
    @flow(name="async-report")
    async def async_report() -> dict[str, float]:
        return {"loss": 0.25}

    assert asyncio.run(async_report()) == {"loss": 0.25}
    (flow_run,) = tf.Client().search_runs("async-report", "attributes.kind = 'flow'")
    (report,) = _artifacts("trackflow-run-report-async-report", flow_run.flow_run_id)
    assert "0.25" in report.data


def test_publishing_failures_never_fail_the_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    import prefect.artifacts
    import prefect.events

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("Prefect is down")

    from prefect.client.orchestration import PrefectClient, SyncPrefectClient

    monkeypatch.setattr(prefect.artifacts, "create_markdown_artifact", refuse)
    monkeypatch.setattr(prefect.artifacts, "create_table_artifact", refuse)
    monkeypatch.setattr(SyncPrefectClient, "create_artifact", refuse)  # the run's client publishes
    monkeypatch.setattr(PrefectClient, "create_artifact", refuse)
    monkeypatch.setattr(prefect.events, "emit_event", refuse)

    @flow(name="unpublished")
    def unpublished() -> dict[str, float]:
        return {"value": 1.0}

    assert unpublished() == {"value": 1.0}
    monkeypatch.setattr(run_report, "collect_summary", refuse)
    assert unpublished() == {"value": 1.0}
    runs = tf.Client().search_runs("unpublished", "attributes.kind = 'flow'")
    assert [r.status.value for r in runs] == ["FINISHED", "FINISHED"]
    assert all(r.metrics == {"value": 1.0} for r in runs)


def test_report_is_published_before_user_hooks_and_the_flow_call_return() -> None:
    """Publishing runs beside Prefect's end; trackflow's final-state hook (first) waits for it."""
    from trackflow.tracked import flow_end

    seen: list[int] = []

    def user_hook(flow_obj: Any, flow_run: Any, state: Any) -> None:
        seen.append(len(_artifacts("trackflow-task-metrics-hooked", str(flow_run.id))))
        seen.append(len(_artifacts("trackflow-run-report-hooked", str(flow_run.id))))

    @flow(name="hooked", on_completion=[user_hook])
    def hooked() -> dict[str, float]:
        return {"x": 1.0}

    assert hooked() == {"x": 1.0}
    assert seen == [1, 1]
    assert not flow_end._pending  # joined, nothing left in flight
    (flow_run,) = tf.Client().search_runs("hooked", "attributes.kind = 'flow'")
    (report,) = _artifacts("trackflow-run-report-hooked", flow_run.flow_run_id)
    assert flow_run.id in report.data and "FINISHED" in report.data
