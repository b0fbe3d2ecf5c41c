"""Searches ordered by a metric, param or tag run in index-driven steps (store.keyed_search).

The steps must give the same page as the single statement of ``build_search_statement``:
every case below is checked against it, on SQLite (with migration 0008's indexes) and
PostgreSQL, over runs with ties, missing keys, NaN and infinite metrics, two experiments
and nested runs, for pages at several offsets.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from conftest import drop_pg_schema, make_pg_schema_url, pg_base_url
from sqlalchemy import ColumnElement, Engine, create_engine, insert
from sqlalchemy.orm import Session

from trackflow.tracking.search import parse_filter, parse_order_by
from trackflow.tracking.store import keyed_search
from trackflow.tracking.store.keyed_search import search_page
from trackflow.tracking.store.migrate import ensure_schema
from trackflow.tracking.store.orm import Base, ExperimentRow, LatestMetricRow, ParamRow, RunRow, TagRow
from trackflow.tracking.store.search_sql import build_search_statement, compile_head_statement

from ci_gate import unavailable

T0 = 1_700_000_000_000
RUNS = 400


def _seed(engine: Engine) -> None:
    rng = random.Random(11)
    runs, params, tags, metrics = [], [], [], []
    for i in range(RUNS):
        run_id = f"run{i:04d}"
        runs.append({
            "id": run_id, "experiment_id": "e1" if i % 7 else "e2", "name": f"n{i}", "status": "FINISHED",
            "kind": "manual", "start_time": T0 + (i // 3) * 1000,  # three runs share each start time
            "end_time": None, "parent_run_id": "run0000" if i % 11 == 5 else None, "attempts": 1,
        })  # fmt: skip
        params.append({"run_id": run_id, "key": "model", "value": rng.choice(("rf", "gbm", "lr"))})
        if i % 13:  # some runs lack max_depth
            params.append({"run_id": run_id, "key": "max_depth", "value": str(rng.randint(2, 12))})
        if i % 5:
            tags.append({"run_id": run_id, "key": "team", "value": rng.choice(("growth", "risk", "search"))})
        acc = rng.choice((round(rng.random(), 1), math.nan, math.inf, -math.inf, round(rng.random(), 3)))
        if i % 17:
            metrics.append({"run_id": run_id, "key": "acc", "value": None if math.isnan(acc) else acc,
                            "is_nan": math.isnan(acc), "step": 0, "timestamp": T0})  # fmt: skip
        metrics.append({"run_id": run_id, "key": "loss", "value": rng.random(), "is_nan": False, "step": 0,
                        "timestamp": T0})  # fmt: skip
    with engine.begin() as connection:
        connection.execute(insert(ExperimentRow), [
            {"id": "e1", "name": "alpha", "created_at": T0}, {"id": "e2", "name": "beta", "created_at": T0},
        ])  # fmt: skip
        connection.execute(insert(RunRow), runs)
        connection.execute(insert(ParamRow), params)
        connection.execute(insert(TagRow), tags)
        connection.execute(insert(LatestMetricRow), metrics)


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("keyed") / "keyed.db"
    engine = create_engine(f"sqlite:///{path}")
    ensure_schema(engine)  # the migrations, so 0008's (key, value) indexes exist
    _seed(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def postgresql_engine() -> Iterator[Engine]:
    if pg_base_url() is None:
        unavailable("the PostgreSQL keyed-search tests need TRACKFLOW_TEST_DATABASE_URL (CI sets it)")
    url, schema = make_pg_schema_url()
    engine = create_engine(url)
    try:
        Base.metadata.create_all(engine)  # the ORM's schema: no (key, value) index on params and tags here
        _seed(engine)
        yield engine
    finally:
        engine.dispose()
        drop_pg_schema(schema)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Engine:
    found: Engine = request.getfixturevalue(f"{request.param}_engine")
    return found


def _both(
    engine: Engine, filter_text: str | None, order_by: Sequence[str], *, limit: int, offset: int,
    experiment_ids: Sequence[str] | None, top_level: bool,
) -> tuple[list[str], list[str]]:
    """(the steps' page, the single statement's page)."""
    filter_expr, ordering = parse_filter(filter_text), parse_order_by(order_by)

    def where() -> list[ColumnElement[bool]]:
        return [RunRow.parent_run_id.is_(None)] if top_level else []

    with Session(engine) as session:
        stepped = search_page(session, experiment_ids=experiment_ids, filter_expr=filter_expr, order_by=ordering,
                              limit=limit, offset=offset, where=where())
        single = build_search_statement(experiment_ids=experiment_ids, filter_expr=filter_expr, order_by=ordering,
                                        limit=limit, offset=offset).where(*where())
        return stepped, list(session.scalars(single))


CASES = [
    ("params.model = 'rf' or tags.team = 'risk'", ["params.max_depth DESC"]),
    ("params.model = 'rf' or tags.team = 'risk'", ["params.max_depth"]),
    (None, ["params.max_depth DESC", "metrics.loss"]),
    (None, ["tags.team", "params.model DESC"]),
    (None, ["metrics.acc DESC"]),
    (None, ["metrics.acc"]),
    ("metrics.acc > 0.5 and params.model = 'rf'", ["metrics.acc DESC"]),
    ("metrics.acc >= 0.2 and metrics.acc < 0.8", ["metrics.acc"]),
    ("tags.team LIKE 'ri%' or metrics.loss < 0.3", ["metrics.acc DESC", "params.model"]),
    ("params.max_depth IN ('3', '9', '11')", ["params.max_depth DESC", "start_time"]),
    ("params.model = 'nope'", ["params.max_depth DESC"]),
]


@pytest.mark.parametrize(("filter_text", "order_by"), CASES)
@pytest.mark.parametrize("small_group", [keyed_search.SMALL_GROUP, 3])
def test_steps_give_the_single_statements_page(
    engine: Engine, filter_text: str | None, order_by: list[str], small_group: int, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a small SMALL_GROUP sends tied groups through the runs-ordered walk instead of the index
    monkeypatch.setattr(keyed_search, "SMALL_GROUP", small_group)
    for limit, offset in ((25, 0), (25, 25), (7, 93), (100, 300), (1000, 0), (3, 396)):
        for experiment_ids, top_level in ((["e1"], False), (None, True)):
            stepped, single = _both(engine, filter_text, order_by, limit=limit, offset=offset,
                                    experiment_ids=experiment_ids, top_level=top_level)
            assert stepped == single, (filter_text, order_by, limit, offset, experiment_ids, top_level)


def test_infinite_and_nan_metrics_keep_their_places(engine: Engine) -> None:
    stepped, single = _both(engine, None, ["metrics.acc DESC"], limit=RUNS, offset=0, experiment_ids=None,
                            top_level=False)
    assert stepped == single and len(stepped) == RUNS
    with Session(engine) as session:
        values = {row.run_id: row.value for row in session.query(LatestMetricRow).filter_by(key="acc")}
    ranked = [values.get(run_id) for run_id in stepped]
    assert ranked[0] == math.inf
    finite_end = max(i for i, value in enumerate(ranked) if value is not None)
    assert ranked[finite_end] == -math.inf  # -inf is a value: before NaN and missing, which sort last
    assert all(value is None for value in ranked[finite_end + 1:])


def test_sqlite_walks_the_key_value_index_for_the_head(sqlite_engine: Engine) -> None:
    engine = sqlite_engine
    statement = compile_head_statement(
        experiment_ids=["e1"], filter_expr=parse_filter("params.model = 'rf' or tags.team = 'risk'"),
        item=parse_order_by(["params.max_depth DESC"])[0], limit=100,
    )
    sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        plan = " | ".join(str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
    assert "ix_params_key_value" in plan and "TEMP B-TREE" not in plan, plan
