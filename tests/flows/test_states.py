"""Statuses mirror Prefect's: failures, retries (one run, attempts counted), cache hits."""

from __future__ import annotations

import uuid

import pytest
from prefect.cache_policies import INPUTS, TASK_SOURCE

import trackflow as tf
from trackflow import flow, task
from trackflow.tracking.entities import RunStatus


def test_failing_task_fails_its_run_and_the_flow_run() -> None:
    hook_calls: list[str] = []

    @task(on_failure=[lambda task, run, state: hook_calls.append(state.name)])
    def explode(x: int) -> int:
        raise ValueError(f"bad input {x}")

    @flow(name="failing")
    def failing() -> int:
        return explode(3)

    with pytest.raises(ValueError, match="bad input 3"):
        failing()
    assert hook_calls == ["Failed"]  # the user's hook still runs after trackflow's
    client = tf.Client()
    flow_run = client.search_runs("failing", "attributes.kind = 'flow'")[0]
    assert flow_run.status is RunStatus.FAILED and "bad input 3" in (flow_run.error or "")
    (child,) = client.get_child_runs(flow_run.id)
    assert child.status is RunStatus.FAILED and child.error == "ValueError: bad input 3"
    assert child.params == {"x": "3"} and child.end_time is not None and child.attempts == 1


def test_retried_task_is_one_run_with_its_attempts() -> None:
    attempts: list[int] = []

    @task(retries=3, retry_delay_seconds=0)
    def flaky(n: int) -> dict[str, float]:
        attempts.append(len(attempts) + 1)
        tf.log_metric("attempt", len(attempts), step=len(attempts))
        if len(attempts) < 3:
            raise RuntimeError(f"try {len(attempts)}")
        return {"value": float(n)}

    @flow(name="retrying")
    def retrying() -> dict[str, float]:
        return flaky(7)

    assert retrying() == {"value": 7.0}
    client = tf.Client()
    flow_run = client.search_runs("retrying", "attributes.kind = 'flow'")[0]
    (child,) = client.get_child_runs(flow_run.id)
    assert child.status is RunStatus.FINISHED and child.attempts == 3
    assert child.params == {"n": "7"} and child.metrics["value"] == 7.0
    assert [m.value for m in client.get_metric_history(child.id, "attempt")] == [1.0, 2.0, 3.0]


def test_exhausted_retries_end_failed() -> None:
    @task(retries=1, retry_delay_seconds=0)
    def always_fails() -> None:
        raise KeyError("missing")

    @flow(name="exhausted")
    def exhausted() -> None:
        always_fails()

    with pytest.raises(KeyError):
        exhausted()
    client = tf.Client()
    flow_run = client.search_runs("exhausted", "attributes.kind = 'flow'")[0]
    (child,) = client.get_child_runs(flow_run.id)
    assert child.status is RunStatus.FAILED and child.attempts == 2 and "missing" in (child.error or "")


def test_cache_hit_records_a_run_linked_to_the_producer() -> None:
    calls: list[int] = []

    @task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
    def expensive(x: int) -> dict[str, float]:
        calls.append(x)
        return {"result": float(x * 10)}

    @flow(name="caching")
    def caching(x: int) -> dict[str, float]:
        return expensive(x)

    first_value = uuid.uuid4().int % 10**9  # fresh inputs: no result of an earlier session is reused
    assert caching(first_value) == {"result": first_value * 10.0}
    assert caching(first_value) == {"result": first_value * 10.0}
    assert calls == [first_value]  # Prefect served the second call from its cache
    client = tf.Client()
    flows = client.search_runs("caching", "attributes.kind = 'flow'", order_by="start_time ASC")
    assert len(flows) == 2
    (producer,) = client.get_child_runs(flows[0].id)
    (hit,) = client.get_child_runs(flows[1].id)
    assert producer.tags.get("trackflow.cache_hit") is None and producer.tags["trackflow.cache_key"]
    assert hit.status is RunStatus.FINISHED and hit.tags["trackflow.cache_hit"] == "true"
    assert hit.tags["trackflow.cached_from"] == producer.id and hit.parent_run_id == flows[1].id
    assert hit.params == {"x": str(first_value)}
    edges = client.lineage(hit.id, direction="downstream", depth=1).edges
    assert (hit.ref, producer.ref, "cached_from") in {(e.source, e.target, e.relation) for e in edges}


def test_timed_out_task_fails_and_with_options_keeps_user_hooks() -> None:
    import asyncio

    seen: list[str] = []

    @task(timeout_seconds=0.5)
    async def sleepy() -> None:
        await asyncio.sleep(30)

    impatient = sleepy.with_options(on_failure=[lambda task, run, state: seen.append(state.name)], experiment="timeouts")

    @flow(name="timing-out")
    async def timing_out() -> None:
        await impatient()

    with pytest.raises(TimeoutError):
        asyncio.run(timing_out())
    assert seen == ["TimedOut"]
    (child,) = tf.Client().search_runs("timeouts")
    assert child.status is RunStatus.FAILED and child.end_time is not None
