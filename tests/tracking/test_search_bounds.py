"""Search bounds: oversized or unencodable filters, values and page tokens are InvalidInputError.

Each case used to reach the driver (OverflowError, UnicodeEncodeError, a generic StoreError
on PostgreSQL) or take minutes; now it is rejected before any SQL is built.
"""

from __future__ import annotations

import base64
import json
import time

import pytest

from trackflow.exceptions import InvalidInputError
from trackflow.tracking.client import Client
from trackflow.tracking.search import (
    MAX_FILTER_CHARS,
    MAX_FILTER_TERMS,
    MAX_IN_VALUES,
    MAX_ORDER_BY_ITEMS,
    Comparison,
    Or,
    check_filter,
    decode_page_token,
    parse_filter,
)
from trackflow.tracking.store.search_sql import build_search_statement


def _token(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


@pytest.fixture
def seeded(client: Client) -> Client:
    run = client.create_run("bounds", params={"p": "a"}, tags={"t": "x"})
    client.log_metric(run.id, "m", 0.5)
    client.flush()
    return client


# --------------------------------------------------------------------------- caps


def test_too_many_or_terms_fail_fast_and_point_at_the_first_extra_term(seeded: Client) -> None:
    terms = [f"metrics.m{i} < 1" for i in range(20_000)]
    text = " or ".join(terms)
    started = time.perf_counter()
    with pytest.raises(InvalidInputError, match="Too many comparisons") as info:
        seeded.search_runs("bounds", filter=text[: MAX_FILTER_CHARS - 10].rsplit(" or ", 1)[0])
    assert time.perf_counter() - started < 5
    position = len(" or ".join(terms[:MAX_FILTER_TERMS])) + len(" or ")
    assert f"at position {position}" in str(info.value)
    assert f"metrics.m{MAX_FILTER_TERMS} < 1" in str(info.value)  # the window shows the extra term
    assert len(str(info.value)) < 2_000  # a long filter is not echoed whole
    with pytest.raises(InvalidInputError, match=f"at most {MAX_FILTER_CHARS:,}"):
        seeded.search_runs("bounds", filter=text)


def test_the_cap_is_generous_enough_for_humans(seeded: Client) -> None:
    text = " or ".join(f"metrics.m{i} < 1" for i in range(MAX_FILTER_TERMS - 1)) + " or metrics.m < 1"
    assert [r.params for r in seeded.search_runs("bounds", filter=text)] == [{"p": "a"}]
    values = ", ".join(f"'{i}'" for i in range(MAX_IN_VALUES - 1))
    assert len(seeded.search_runs("bounds", filter=f"params.p IN ({values}, 'a')")) == 1


def test_in_list_longer_than_the_cap(seeded: Client) -> None:
    values = ",".join(f"'{i}'" for i in range(MAX_IN_VALUES + 1))
    with pytest.raises(InvalidInputError, match="Too many values in the IN list") as info:
        seeded.search_runs("bounds", filter=f"params.p IN ({values})")
    position = len("params.p IN (") + len(",".join(f"'{i}'" for i in range(MAX_IN_VALUES))) + 1
    assert f"at position {position}" in str(info.value) and "^" in str(info.value)
    with pytest.raises(InvalidInputError, match=f"at most {MAX_FILTER_CHARS:,}"):
        seeded.search_runs("bounds", filter="params.p IN (" + ",".join(f"'{i}'" for i in range(100_000)) + ")")


def test_too_many_order_by_items(seeded: Client) -> None:
    with pytest.raises(InvalidInputError, match=f"At most {MAX_ORDER_BY_ITEMS} order_by"):
        seeded.search_runs("bounds", order_by=[f"metrics.m{i}" for i in range(MAX_ORDER_BY_ITEMS + 1)])


def test_hand_built_ast_is_checked_too() -> None:
    wide = Or(tuple(Comparison("metrics", f"m{i}", "<", 1) for i in range(MAX_FILTER_TERMS + 1)))
    for expr in (
        wide,
        Comparison("params", "p", "IN", tuple(str(i) for i in range(MAX_IN_VALUES + 1))),
        Comparison("metrics", "m", "<", 10**40),
        Comparison("attributes", "start_time", ">", 10**23),
        Comparison("params", "p", "=", "a\x00"),
        Comparison("params", "\udc80", "=", "a"),
    ):
        with pytest.raises(InvalidInputError):
            check_filter(expr)
        with pytest.raises(InvalidInputError):
            build_search_statement(experiment_ids=None, filter_expr=expr, order_by=(), limit=1, offset=0)
    with pytest.raises(InvalidInputError):
        build_search_statement(experiment_ids=None, filter_expr=None, order_by=(), limit=1, offset=2**63)


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("metrics.m < " + "1" + "0" * 400, "out of range for a 64-bit float"),
        ("metrics.m < 1e400", "out of range for a 64-bit float"),
        ("metrics.m < " + "9" * 5000, "out of range"),
        ("start_time > 99999999999999999999999", "64-bit integer"),
        ("end_time < -1e30", "64-bit integer"),
        ("params.p = 'a\udc80b'", "lone surrogate"),
        ("tags.t IN ('x', '\ud800')", "lone surrogate"),
        ("params.p = 'a\x00b'", "NUL"),
        ("run_name LIKE '%\x00%'", "NUL"),
        ("params.`k\x00` = 'a'", "NUL"),
        ("metrics.\udc80 < 1", "lone surrogate"),
    ],
)
def test_unencodable_or_out_of_range_values(seeded: Client, text: str, needle: str) -> None:
    with pytest.raises(InvalidInputError, match=needle) as info:
        seeded.search_runs("bounds", filter=text)
    message = str(info.value)
    assert "^" in message and "position" in message
    message.encode("utf-8")  # the message itself can be printed


def test_huge_integers_that_fit_a_float_still_work(seeded: Client) -> None:
    assert len(seeded.search_runs("bounds", filter="metrics.m < 1" + "0" * 40)) == 1
    assert len(seeded.search_runs("bounds", filter="metrics.m > -1" + "0" * 25)) == 1
    assert parse_filter("metrics.m < 1" + "0" * 40) == Comparison("metrics", "m", "<", 1e40)
    assert len(seeded.search_runs("bounds", filter="start_time > -9223372036854775808")) == 1


def test_unencodable_order_by_key_and_experiment_name(seeded: Client) -> None:
    with pytest.raises(InvalidInputError, match="lone surrogate"):
        seeded.search_runs("bounds", order_by=["metrics.`\udc80` DESC"])
    with pytest.raises(InvalidInputError, match="NUL"):
        seeded.search_runs("bounds", order_by=["params.`a\x00`"])
    with pytest.raises(InvalidInputError, match="experiment name"):
        seeded.search_runs("bo\udc80unds")
    with pytest.raises(InvalidInputError, match="experiment name"):
        seeded.search_runs(["bounds", "a\x00"])


# --------------------------------------------------------------------------- page tokens


@pytest.mark.parametrize(
    "token",
    [
        _token({"offset": 2**63}),
        _token({"offset": 2**53}),
        _token({"offset": 10**30}),
    ],
)
def test_malformed_page_tokens(seeded: Client, token: str) -> None:
    with pytest.raises(InvalidInputError, match="page token"):
        seeded.search_runs("bounds", page_token=token)
    with pytest.raises(InvalidInputError, match="page token"):
        decode_page_token(token)


def test_page_token_of_the_wrong_type(seeded: Client) -> None:
    for token in (0, 12, b"eyJvZmZzZXQiOiAxfQ==", ["x"]):
        with pytest.raises(InvalidInputError, match="page token"):
            seeded.search_runs("bounds", page_token=token)  # type: ignore[arg-type]
    assert len(seeded.search_runs("bounds", page_token="")) == 1
    assert len(seeded.search_runs("bounds", page_token=_token({"offset": 2**53 - 1}))) == 0
