"""The search grammar (trackflow.tracking.search) and its SQL compiler (store.search_sql)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import Engine, create_engine, func, insert, select, text

from trackflow.exceptions import InvalidInputError
from trackflow.tracking.search import (
    And,
    Comparison,
    Or,
    OrderBy,
    decode_page_token,
    encode_page_token,
    parse_filter,
    parse_order_by,
)
from trackflow.tracking.store.orm import (
    Base,
    ExperimentRow,
    LatestMetricRow,
    ParamRow,
    RunRow,
    TagRow,
)
from trackflow.tracking.store.search_sql import build_search_statement

from ci_gate import unavailable

# --------------------------------------------------------------------------- parser


def test_blank_filter_is_no_filter() -> None:
    assert parse_filter(None) is None
    assert parse_filter("") is None
    assert parse_filter("  \n ") is None


@pytest.mark.parametrize(
    ("op_text", "op"),
    [("=", "="), ("==", "="), ("!=", "!="), ("<>", "!="), ("<", "<"), ("<=", "<="),
     (">", ">"), (">=", ">=")],
)  # fmt: skip
def test_numeric_operators(op_text: str, op: str) -> None:
    assert parse_filter(f"metrics.loss {op_text} 0.5") == Comparison("metrics", "loss", op, 0.5)
    assert parse_filter(f"metrics.loss{op_text}-2") == Comparison("metrics", "loss", op, -2)


@pytest.mark.parametrize(
    ("op_text", "op"), [("LIKE", "LIKE"), ("like", "LIKE"), ("ILike", "ILIKE"), ("=", "="),
                        ("!=", "!=")],
)  # fmt: skip
def test_string_operators(op_text: str, op: str) -> None:
    assert parse_filter(f"params.model {op_text} 'r%'") == Comparison("params", "model", op, "r%")


def test_in_and_not_in_lists() -> None:
    assert parse_filter("params.model IN ('rf', \"gbm\")") == Comparison(
        "params", "model", "IN", ("rf", "gbm")
    )
    assert parse_filter("tags.team not  IN ('a')") == Comparison("tags", "team", "NOT IN", ("a",))
    assert parse_filter("status in ('running','Finished')") == Comparison(
        "attributes", "status", "IN", ("RUNNING", "FINISHED")
    )


def test_and_binds_tighter_than_or_and_parentheses_group() -> None:
    a = Comparison("metrics", "a", "<", 1)
    b = Comparison("params", "b", "=", "x")
    c = Comparison("tags", "c", "=", "y")
    assert parse_filter("metrics.a < 1 and params.b = 'x' or tags.c = 'y'") == Or((And((a, b)), c))
    grouped = parse_filter("metrics.a < 1 AND (params.b = 'x' OR tags.c = 'y')")
    assert grouped == And((a, Or((b, c))))
    assert parse_filter("metrics.a < 1 or params.b = 'x' and tags.c = 'y'") == Or((a, And((b, c))))
    assert parse_filter("((metrics.a < 1)) and (params.b = 'x' and tags.c = 'y')") == And((a, b, c))


@pytest.mark.parametrize(
    ("number", "value"), [("3", 3), ("1e-3", 0.001), ("-2.5E2", -250.0), (".5", 0.5), ("+7", 7)]
)
def test_numbers(number: str, value: float) -> None:
    parsed = parse_filter(f"metrics.x = {number}")
    assert isinstance(parsed, Comparison)
    assert parsed.value == pytest.approx(value)
    assert type(parsed.value) is type(value)


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("tags.`my key` = 'x'", "my key", "x"),
        ('metrics."val loss" >= 1', "val loss", 1),
        ("tags.`a``b` = 'x'", "a`b", "x"),
        ("metrics.val.loss < 1", "val.loss", 1),
        ("params.x = 'it''s'", "x", "it's"),
        ("params.x = 'it\\'s'", "x", "it's"),
        ('params.x = "say ""hi"""', "x", 'say "hi"'),
        ("params.x = 'back\\\\slash'", "x", "back\\slash"),
        ("params.x = 'C:\\temp'", "x", "C:\\temp"),
        ("params.x = 'a and b or (c)'", "x", "a and b or (c)"),
    ],
)
def test_quoting_and_escapes(text: str, key: str, value: object) -> None:
    parsed = parse_filter(text)
    assert isinstance(parsed, Comparison)
    assert (parsed.key, parsed.value) == (key, value)


@pytest.mark.parametrize(
    ("text", "entity", "key"),
    [
        ("attributes.status = 'FINISHED'", "attributes", "status"),
        ("attribute.run_name = 'a'", "attributes", "run_name"),
        ("attr.name = 'a'", "attributes", "run_name"),
        ("run.id = 'a'", "attributes", "run_id"),
        ("name = 'a'", "attributes", "run_name"),
        ("experiment = 'a'", "attributes", "experiment"),
        ("kind = 'a'", "attributes", "kind"),
        ("flow_run_id = 'a'", "attributes", "flow_run_id"),
        ("Attributes.`task_run_id` = 'a'", "attributes", "task_run_id"),
        ("metric.loss = 1", "metrics", "loss"),
        ("param.lr = '1'", "params", "lr"),
        ("tag.team = 'a'", "tags", "team"),
    ],
)
def test_entity_and_attribute_aliases(text: str, entity: str, key: str) -> None:
    parsed = parse_filter(text)
    assert isinstance(parsed, Comparison)
    assert (parsed.entity, parsed.key) == (entity, key)


def test_status_is_normalized_and_times_accept_iso() -> None:
    status = Comparison("attributes", "status", "=", "FINISHED")
    assert parse_filter("status = 'finished'") == status
    expected = Comparison("attributes", "start_time", ">", 1_700_000_000_000)
    assert parse_filter("start_time > '2023-11-14T22:13:20Z'") == expected
    assert parse_filter("start_time > '2023-11-14T22:13:20+00:00'") == expected
    assert parse_filter("start_time > '2023-11-14 22:13:20'") == expected  # naive = UTC
    assert parse_filter("start_time > '2023-11-14T23:13:20.000+01:00'") == expected
    assert parse_filter("attributes.end_time <= 1.7e12") == Comparison(
        "attributes", "end_time", "<=", 1_700_000_000_000
    )


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("metrics.loss <", "position 14"),
        ("metrics.loss < 'a'", "position 15"),
        ("params.x = 5", "quote it"),
        ("params.x = 5", "position 11"),
        ("foo.bar = 1", "'foo'"),
        ("metrics.a < 1 and", "position 17"),
        ("(metrics.a < 1", "position 14"),
        ("metrics.a < 1)", "position 13"),
        ("metrics.a ~ 1", "'~'"),
        ("status = 'DONE'", "'DONE'"),
        ("params.a = 'abc", "position 11"),
        ("metrics.loss < 0.2 an x", "Unexpected token 'an' at position 19"),
        ("metrics.a ! 1", "position 10"),
        ("metrics. < 1", "position 0"),
        ("`x` = 'a'", "position 0"),
        ("bogus = 'a'", "'bogus'"),
        ("attributes.bogus = 'a'", "'bogus'"),
        ("metrics.a LIKE 'x'", "LIKE"),
        ("params.a < 'x'", "position 9"),
        ("status LIKE 'R%'", "LIKE"),
        ("start_time > 'yesterday'", "'yesterday'"),
        ("params.a IN ()", "position 13"),
        ("params.a IN ('x',)", "position 17"),
        ("params.a IN 'x'", "position 12"),
        ("params.a NOT LIKE 'x'", "position 13"),
        ("params.a = `x`", "position 11"),
        ("and params.a = 'x'", "position 0"),
        ("metrics.a < 1 metrics.b < 2", "position 14"),
        ("()", "position 1"),
        ("metrics.a < 1 or or metrics.b < 2", "position 17"),
        ("(" * 100 + "metrics.a < 1" + ")" * 100, "nest"),
    ],
)
def test_malformed_filters(text: str, needle: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_filter(text)
    message = str(info.value)
    assert needle in message
    assert f'"{text}"' in message  # the filter is quoted
    assert "^" in message  # with a caret line


def test_order_by() -> None:
    assert parse_order_by(["metrics.loss ASC", "params.lr desc", "attributes.start_time",
                           "start_time DESC", "tags.`my key` Desc", "name"]) == (
        OrderBy("metrics", "loss", True),
        OrderBy("params", "lr", False),
        OrderBy("attributes", "start_time", True),
        OrderBy("attributes", "start_time", False),
        OrderBy("tags", "my key", False),
        OrderBy("attributes", "run_name", True),
    )  # fmt: skip
    assert parse_order_by([]) == ()
    assert parse_order_by(None) == ()
    assert parse_order_by("metrics.loss DESC") == (OrderBy("metrics", "loss", False),)


@pytest.mark.parametrize(
    ("item", "needle"),
    [("metrics.loss up", "'up' at position 13"), ("foo", "'foo'"), ("", "order_by"),
     ("metrics.loss ASC DESC", "position 17"), ("foo.bar", "'foo'")],
)  # fmt: skip
def test_malformed_order_by(item: str, needle: str) -> None:
    with pytest.raises(InvalidInputError, match="order_by") as info:
        parse_order_by([item])
    assert needle in str(info.value)


def test_page_tokens_round_trip_and_reject_tampering() -> None:
    for offset in (0, 1, 100, 10**9):
        assert decode_page_token(encode_page_token(offset)) == offset
    good = encode_page_token(20)
    for bad in ("", "xx", good[:-2], "eyJvZmZzZXQiOiAtMX0=", "eyJvZmZzZXQiOiAiMSJ9", "é",
                "eyJvZmZzZXQiOiAxLCAieCI6IDF9", "WzFd"):  # fmt: skip
        with pytest.raises(InvalidInputError, match="page token"):
            decode_page_token(bad)
    with pytest.raises(InvalidInputError):
        encode_page_token(-1)


# --------------------------------------------------------------------------- SQL

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
INJECTION_KEY = "'; DROP TABLE runs; --"
INJECTION_VALUE = "x'); DROP TABLE params; --"
_BACKENDS = ["sqlite", "postgresql"]  # postgresql needs TRACKFLOW_TEST_DATABASE_URL (fails on CI without it)


def _seed(engine: Engine) -> None:
    def run(i: int, exp: str, name: str, status: str, **extra: object) -> dict[str, object]:
        row = {"id": f"r{i}", "experiment_id": exp, "name": name, "status": status,
               "kind": "manual", "start_time": T0 + i * 1000, "end_time": None,
               "parent_run_id": None, "attempts": 1}  # fmt: skip
        return row | extra

    def metric(run_id: str, key: str, value: float | None) -> dict[str, object]:
        return {"run_id": run_id, "key": key, "value": value, "is_nan": value is None,
                "step": 0, "timestamp": T0}  # fmt: skip

    with engine.begin() as conn:
        conn.execute(insert(ExperimentRow), [
            {"id": "e1", "name": "alpha", "created_at": T0},
            {"id": "e2", "name": "beta", "created_at": T0},
        ])  # fmt: skip
        conn.execute(insert(RunRow), [
            run(1, "e1", "base-1", "FINISHED", end_time=T0 + 10_000),
            run(2, "e1", "base-2", "FAILED", end_time=T0 + 20_000),
            run(3, "e1", "Tuned", "FINISHED", end_time=T0 + 30_000, parent_run_id="r1"),
            run(4, "e2", "other", "RUNNING"),
            run(5, "e1", "nan-run", "KILLED"),
            run(6, "e1", "inj", "FINISHED"),
        ])  # fmt: skip
        conn.execute(insert(LatestMetricRow), [
            metric("r1", "loss", 0.5), metric("r1", "acc", 0.7),
            metric("r2", "loss", 0.1), metric("r2", "acc", 0.9),
            metric("r3", "loss", 0.3),
            metric("r4", "loss", 0.2), metric("r4", "acc", 0.7),
            metric("r5", "loss", None), metric("r5", "acc", 0.1),
        ])  # fmt: skip
        conn.execute(insert(ParamRow), [
            {"run_id": "r1", "key": "model", "value": "rf"},
            {"run_id": "r1", "key": "depth", "value": "5"},
            {"run_id": "r2", "key": "model", "value": "gbm"},
            {"run_id": "r2", "key": "depth", "value": "10"},
            {"run_id": "r3", "key": "model", "value": "rf"},
            {"run_id": "r4", "key": "model", "value": "lr"},
            {"run_id": "r5", "key": "model", "value": "RF"},
            {"run_id": "r6", "key": INJECTION_KEY, "value": INJECTION_VALUE},
        ])  # fmt: skip
        conn.execute(insert(TagRow), [
            {"run_id": "r1", "key": "team", "value": "growth"},
            {"run_id": "r1", "key": "my key", "value": "x"},
            {"run_id": "r2", "key": "team", "value": "core"},
            {"run_id": "r3", "key": "my key", "value": "it's"},
            {"run_id": "r4", "key": "team", "value": "growth"},
        ])  # fmt: skip


@pytest.fixture(scope="module", params=_BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("search") / "search.db"
        sqlite_engine = create_engine(f"sqlite:///{path}")
        Base.metadata.create_all(sqlite_engine)
        _seed(sqlite_engine)
        yield sqlite_engine
        sqlite_engine.dispose()
        return
    url = os.environ.get("TRACKFLOW_TEST_DATABASE_URL")
    if not url:
        unavailable("the PostgreSQL search tests need TRACKFLOW_TEST_DATABASE_URL (CI sets it)")
    schema = f"search_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    pg_engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        Base.metadata.create_all(pg_engine)
        _seed(pg_engine)
        yield pg_engine
    finally:
        pg_engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def search(
    engine: Engine,
    filter_text: str | None = None,
    order_by: Sequence[str] = (),
    *,
    experiment_ids: Sequence[str] | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[str]:
    statement = build_search_statement(
        experiment_ids=experiment_ids,
        filter_expr=parse_filter(filter_text),
        order_by=parse_order_by(order_by),
        limit=limit,
        offset=offset,
    )
    with engine.connect() as conn:
        return list(conn.execute(statement).scalars())


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        (None, ["r6", "r5", "r4", "r3", "r2", "r1"]),
        ("metrics.loss < 0.35", ["r4", "r3", "r2"]),
        ("metrics.loss > 0", ["r4", "r3", "r2", "r1"]),
        ("metrics.loss >= 0.3", ["r3", "r1"]),
        ("metrics.loss <= 0.2", ["r4", "r2"]),
        ("metrics.loss = 0.2", ["r4"]),
        ("metrics.loss != 0.5", ["r4", "r3", "r2"]),  # NaN (r5) matches nothing
        ("metrics.loss < 1e9 or metrics.loss >= -1e9", ["r4", "r3", "r2", "r1"]),
        ("params.model = 'rf'", ["r3", "r1"]),
        ("params.model != 'rf'", ["r5", "r4", "r2"]),  # runs without the param: no match
        ("params.model IN ('rf', 'gbm')", ["r3", "r2", "r1"]),
        ("params.model NOT IN ('rf', 'gbm')", ["r5", "r4"]),
        ("params.model ILIKE 'RF'", ["r5", "r3", "r1"]),
        ("metrics.loss < 0.35 and (params.depth = '5' or tags.team = 'growth')", ["r4"]),
        ("metrics.loss < 0.35 and params.depth = '10' or tags.team = 'growth'", ["r4", "r2", "r1"]),
        ("attributes.status = 'finished'", ["r6", "r3", "r1"]),
        ("status <> 'FINISHED'", ["r5", "r4", "r2"]),
        ("status IN ('RUNNING', 'KILLED')", ["r5", "r4"]),
        ("run_name LIKE 'base%'", ["r2", "r1"]),
        ("attributes.name ILIKE 'TUNED'", ["r3"]),
        ("experiment = 'beta'", ["r4"]),
        ("experiment != 'beta'", ["r6", "r5", "r3", "r2", "r1"]),
        ("experiment LIKE 'al%'", ["r6", "r5", "r3", "r2", "r1"]),
        ("start_time > '2023-11-14T22:13:22Z'", ["r6", "r5", "r4", "r3"]),
        (f"start_time <= {T0 + 2000}", ["r2", "r1"]),
        ("end_time > 0", ["r3", "r2", "r1"]),
        ("parent_run_id = 'r1'", ["r3"]),
        ("parent_run_id != 'zz'", ["r3"]),
        ("id IN ('r2', 'r4')", ["r4", "r2"]),
        ("tags.`my key` = 'it''s'", ["r3"]),
        ("tags.team = 'growth' and metrics.acc > 0.5", ["r4", "r1"]),
    ],
)
def test_filters(engine: Engine, filter_text: str | None, expected: list[str]) -> None:
    assert search(engine, filter_text) == expected


def test_like_case_sensitivity_depends_on_the_database(engine: Engine) -> None:
    expected = ["r5", "r3", "r1"] if engine.dialect.name == "sqlite" else ["r3", "r1"]
    assert search(engine, "params.model LIKE 'r%'") == expected


@pytest.mark.parametrize("op", ["<", ">", "<=", ">=", "=", "!="])
def test_nan_metric_never_matches(engine: Engine, op: str) -> None:
    assert "r5" not in search(engine, f"metrics.loss {op} 0.1")
    assert "r5" not in search(engine, f"metrics.loss {op} -1e300")


@pytest.mark.parametrize(
    ("filter_text", "order_by", "expected"),
    [
        (None, ["metrics.loss ASC"], ["r2", "r4", "r3", "r1", "r6", "r5"]),
        (None, ["metrics.loss DESC"], ["r1", "r3", "r4", "r2", "r6", "r5"]),
        (None, ["metrics.acc DESC"], ["r2", "r4", "r1", "r5", "r6", "r3"]),
        (None, ["metrics.acc", "metrics.loss DESC"], ["r5", "r1", "r4", "r2", "r3", "r6"]),
        ("metrics.loss > 0", ["metrics.loss"], ["r2", "r4", "r3", "r1"]),
        ("metrics.loss > 0 and params.model = 'rf'", ["metrics.loss DESC"], ["r1", "r3"]),
        ("metrics.acc > 0.5 and metrics.acc < 0.8", ["metrics.acc DESC"], ["r4", "r1"]),
        ("params.model = 'rf' or metrics.loss < 0.15", ["metrics.loss DESC"], ["r1", "r3", "r2"]),
        (None, ["tags.team"], ["r2", "r4", "r1", "r6", "r5", "r3"]),
        ("tags.team != 'x'", ["tags.team DESC"], ["r4", "r1", "r2"]),
        (None, ["end_time DESC"], ["r3", "r2", "r1", "r6", "r5", "r4"]),
        (None, ["attributes.start_time"], ["r1", "r2", "r3", "r4", "r5", "r6"]),
        (None, ["experiment DESC", "start_time"], ["r4", "r1", "r2", "r3", "r5", "r6"]),
        ("experiment = 'alpha'", ["experiment", "status"], ["r2", "r6", "r3", "r1", "r5"]),
    ],
)
def test_order_by_sql(
    engine: Engine, filter_text: str | None, order_by: list[str], expected: list[str]
) -> None:
    assert search(engine, filter_text, order_by) == expected


def test_paging_and_experiments(engine: Engine) -> None:
    pages = [search(engine, limit=2, offset=offset) for offset in (0, 2, 4, 6)]
    assert pages == [["r6", "r5"], ["r4", "r3"], ["r2", "r1"], []]
    assert search(engine, None, ["metrics.loss"], limit=2, offset=4) == ["r6", "r5"]
    assert search(engine, None, ["metrics.loss"], limit=3, offset=1) == ["r4", "r3", "r1"]
    assert search(engine, experiment_ids=["e2"]) == ["r4"]
    assert search(engine, experiment_ids=["e1", "e2"], limit=1) == ["r6"]
    assert search(engine, experiment_ids=[]) == []
    assert search(engine, "metrics.loss > 0", experiment_ids=["e1"]) == ["r3", "r2", "r1"]
    with pytest.raises(InvalidInputError):
        build_search_statement(
            experiment_ids=None, filter_expr=None, order_by=(), limit=-1, offset=0
        )


def test_sql_injection_is_just_data(engine: Engine) -> None:
    quoted_value = INJECTION_VALUE.replace("'", "''")
    assert search(engine, f"params.`{INJECTION_KEY}` = '{quoted_value}'") == ["r6"]
    assert search(engine, f"params.`{INJECTION_KEY}` LIKE '%DROP TABLE%'") == ["r6"]
    assert search(engine, "run_name = 'x'' OR ''1''=''1'") == []
    assert search(engine, "tags.`team' OR 1=1 --` = 'growth'") == []
    assert search(engine, None, [f"params.`{INJECTION_KEY}` DESC"])[0] == "r6"
    statement = build_search_statement(
        experiment_ids=[INJECTION_VALUE],
        filter_expr=Comparison("params", INJECTION_KEY, "=", INJECTION_VALUE),
        order_by=(OrderBy("tags", INJECTION_KEY, False),),
        limit=10,
        offset=0,
    )
    assert "DROP" not in str(statement.compile(engine))
    with engine.connect() as conn:
        assert conn.execute(statement).all() == []
        assert conn.execute(select(func.count()).select_from(RunRow)).scalar_one() == 6
        assert conn.execute(select(func.count()).select_from(ParamRow)).scalar_one() == 8
