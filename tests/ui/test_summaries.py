"""The summary reads behind the ui's tables, on SQLite and PostgreSQL (the ``client`` fixture)."""

from __future__ import annotations

import math

import pytest

from trackflow.exceptions import NotFoundError
from trackflow.tracking import summaries
from trackflow.tracking.client import Client
from trackflow.tracking.entities import now_ms
from trackflow.tracking.search import parse_filter, parse_order_by


@pytest.fixture
def table(client: Client) -> dict[str, list[str]]:
    """Experiment "sum": 4 flow runs (3 with an auc, one with a NaN auc) with 2 task runs each; "other": 1 run."""
    flows, tasks = [], []
    for i, auc in enumerate((0.7, 0.9, 0.8, math.nan)):
        _next_millisecond()  # each flow run starts later than the one before: "newest first" is one order
        flow = client.create_run("sum", run_name=f"flow-{i}", kind="flow", params={"lr": str(i)})
        client.log_metric(flow.id, "auc", auc)
        for step in range(3):
            client.log_metric(flow.id, "loss", 1.0 / (1 + step + i), step=step)
        for t in range(2):
            task = client.create_run("sum", run_name=f"task-{i}-{t}", kind="task", parent_run_id=flow.id,
                                     tags={"role": "fit"})
            client.end_run(task.id)
            tasks.append(task.id)
        client.end_run(flow.id)
        flows.append(flow.id)
    client.log_metric(client.create_run("other", run_name="lone").id, "auc", 0.99)
    _next_millisecond()
    bare = client.create_run("sum", run_name="no-auc", kind="flow")  # no metrics at all, still running
    flows.append(bare.id)
    return {"flows": flows, "tasks": tasks}


def _next_millisecond() -> None:
    """Wait until the run clock (milliseconds) has moved on, so the next run's start time is later."""
    started = now_ms()
    while now_ms() == started:
        pass


def test_experiment_summaries(client: Client, table: dict[str, list[str]]) -> None:
    rows = {s.name: s for s in summaries.experiment_summaries(client, metric="auc", mode="max")}
    assert rows["sum"].run_count == 5 + 8 and rows["sum"].flow_run_count == 5
    assert rows["sum"].best == 0.9 and rows["other"].best == 0.99  # NaN is no best value
    assert rows["sum"].last_run_time is not None
    assert {s.name: s.best for s in summaries.experiment_summaries(client, metric="auc", mode="min")}["sum"] == 0.7
    assert all(s.best is None for s in summaries.experiment_summaries(client))


def _ids(client: Client, order: str | None = None, *, filter_text: str | None = None, top_level: bool = True,
         limit: int = 50, offset: int = 0, duration: bool | None = None) -> list[str]:
    page = summaries.run_table(client, "sum", filter_expr=parse_filter(filter_text), order_by=parse_order_by(order),
                               order_by_duration=duration, top_level=top_level, limit=limit, offset=offset)
    return [run.id for run in page.runs]


def test_run_table_orders_like_search_runs(client: Client, table: dict[str, list[str]]) -> None:
    flows = table["flows"]
    assert _ids(client) == list(reversed(flows))  # newest first, task runs left out
    assert set(_ids(client, top_level=False)) == set(flows + table["tasks"])
    for order in ("metrics.auc DESC", "metrics.auc ASC"):
        expected = [r.id for r in client.search_runs("sum", order_by=order) if r.parent_run_id is None]
        assert _ids(client, order) == expected
        paged = [i for offset in range(0, 6) for i in _ids(client, order, limit=1, offset=offset)]
        assert paged == expected  # across the runs with a value, then NaN and missing ones
        everything = [r.id for r in client.search_runs("sum", order_by=order)]
        assert [i for o in range(0, 14, 4) for i in _ids(client, order, top_level=False, limit=4, offset=o)] == everything
    assert _ids(client, "metrics.auc DESC")[:3] == [flows[1], flows[2], flows[0]]
    assert _ids(client, "metrics.auc DESC", filter_text="metrics.auc < 0.85") == [flows[2], flows[0]]
    assert _ids(client, "params.lr DESC")[:4] == [flows[3], flows[2], flows[1], flows[0]]
    by_duration = _ids(client, duration=False)
    assert by_duration[-1] == flows[-1]  # still running: last


def test_counts_ranges_children_keys(client: Client, table: dict[str, list[str]]) -> None:
    flows = table["flows"]
    experiment = client.get_experiment_by_name("sum")
    assert summaries.count_table_runs(client, experiment.id, filter_expr=None) == 5
    assert summaries.count_table_runs(client, experiment.id, filter_expr=None, top_level=False) == 13
    assert summaries.count_table_runs(client, experiment.id, filter_expr=parse_filter("metrics.auc > 0.75")) == 2
    page = summaries.run_table(client, "sum", filter_expr=None, order_by=(), top_level=True, limit=2, offset=0,
                               range_keys=["loss", "auc"])
    assert page.has_more and len(page.runs) == 2
    ranges = summaries.metric_ranges(client, flows, ["loss"])
    assert ranges[flows[0]]["loss"] == (1.0 / 3, 1.0) and ranges[flows[3]]["loss"] == (1.0 / 6, 1.0 / 4)
    assert flows[-1] not in ranges
    assert summaries.child_counts(client, flows) == {f: 2 for f in flows[:4]}
    keys = summaries.recent_keys(client, experiment.id)
    assert keys.params == ["lr"] and keys.metrics == ["auc", "loss"] and keys.tags == ["role"]
    with pytest.raises(NotFoundError, match="No experiment named 'nope'"):
        summaries.run_table(client, "nope", filter_expr=None, order_by=(), limit=5, offset=0)


def test_deleted_runs_leave_the_summaries_and_tables(client: Client, table: dict[str, list[str]]) -> None:
    best_flow = table["flows"][1]  # auc 0.9, with its 2 task runs
    client.delete_runs([best_flow])
    rows = {s.name: s for s in summaries.experiment_summaries(client, metric="auc", mode="max")}
    assert rows["sum"].run_count == 4 + 6 and rows["sum"].flow_run_count == 4
    assert rows["sum"].best == 0.8
    assert best_flow not in _ids(client) and best_flow not in _ids(client, "metrics.auc DESC")
