"""The run search grammar: filter strings and order-by items -> a small typed AST.

Pure Python (no SQLAlchemy); ``trackflow.tracking.store.search_sql`` compiles the AST to SQL.
The syntax is MLflow's, plus ``or`` and parentheses::

    metrics.loss < 0.2 and (params.max_depth = '5' or tags.team = 'growth')
    attributes.status = 'FINISHED'    run_name LIKE 'base%'    start_time > '2024-01-01'
    params.model IN ('rf', 'gbm')     tags.`my key` = 'x'      metrics."val loss" >= 1e-3

* Entities: ``metrics.`` ``params.`` ``tags.`` ``attributes.`` (singulars and ``attr.`` /
  ``run.`` accepted). A bare name without prefix must be an attribute (``status``...).
* Keys: an unquoted key is everything after the first dot up to whitespace, an operator,
  a parenthesis, a comma or a quote, so ``metrics.val.loss`` is the metric ``val.loss``.
  Put keys with spaces or operator characters in backquotes or double quotes.
* Operators: ``= != <> < <= > >= LIKE ILIKE IN NOT IN`` (``==`` is read as ``=``);
  ``and`` binds tighter than ``or``. Keywords and attribute names are case-insensitive;
  metric/param/tag keys and values are case-sensitive. Metrics take the numeric operators,
  params/tags/text attributes ``= != LIKE ILIKE IN NOT IN``, ``status`` ``= != IN NOT IN``
  (values checked against :data:`RUN_STATUSES`, normalised to upper case).
* How each comparison matches (NaN metrics, missing keys, LIKE case) is documented in
  ``trackflow.tracking.store.search_sql``.
* Values: ``'single'`` or ``"double"`` quoted strings (a doubled quote or a backslash
  escapes the quote; ``\\\\`` is a backslash; other backslashes are kept), numbers
  (``3``, ``-0.5``, ``1e-3``), and ``(v1, v2)`` lists after ``IN`` / ``NOT IN``.
  Metrics compare with numbers, params and tags with quoted strings. ``start_time`` and
  ``end_time`` take milliseconds since the epoch or an ISO-8601 string (naive = UTC).

Every mistake raises :class:`~trackflow.exceptions.InvalidInputError` naming the
offending token and its 0-based character position, with a caret line.

Bounds (checked before any SQL is built, so a hostile filter costs nothing to reject): a
filter has at most :data:`MAX_FILTER_CHARS` characters and :data:`MAX_FILTER_TERMS`
comparisons, an ``IN`` list at most :data:`MAX_IN_VALUES` values, an order-by at most
:data:`MAX_ORDER_BY_ITEMS` items. Numbers must fit the column they compare with (a metric
a finite 64-bit float, ``start_time`` / ``end_time`` a 64-bit integer); keys and strings
must be valid Unicode without NUL (PostgreSQL cannot store it); a page offset is at most
:data:`MAX_PAGE_OFFSET`. :func:`check_filter` applies the same checks to a hand-built AST.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from trackflow.exceptions import InvalidInputError

__all__ = [
    "ENTITIES", "ATTRIBUTE_KEYS", "RUN_STATUSES", "Comparison", "And", "Or", "Expr", "OrderBy",
    "parse_filter", "parse_order_by", "encode_page_token", "decode_page_token", "check_filter",
    "check_order_by", "MAX_FILTER_CHARS", "MAX_FILTER_TERMS", "MAX_IN_VALUES", "MAX_ORDER_BY_ITEMS",
    "MAX_PAGE_OFFSET", "check_search_text",
]  # fmt: skip

Scalar = str | float | int
Value = str | float | int | tuple[str | float | int, ...]

ENTITIES: tuple[str, ...] = ("metrics", "params", "tags", "attributes")
"""Canonical entity names used in :class:`Comparison` and :class:`OrderBy`."""

_ENTITY_ALIASES = {
    "metrics": "metrics", "metric": "metrics",
    "params": "params", "param": "params", "parameters": "params",
    "tags": "tags", "tag": "tags",
    "attributes": "attributes", "attribute": "attributes", "attr": "attributes",
    "run": "attributes",
}  # fmt: skip

ATTRIBUTE_KEYS: tuple[str, ...] = (
    "status", "run_name", "start_time", "end_time", "experiment", "run_id",
    "parent_run_id", "kind", "flow_run_id", "task_run_id",
)  # fmt: skip
"""Canonical attribute keys a filter or an order-by may name."""

_ATTRIBUTE_ALIASES = {key: key for key in ATTRIBUTE_KEYS} | {
    "name": "run_name", "id": "run_id", "experiment_name": "experiment",
}  # fmt: skip

RUN_STATUSES: tuple[str, ...] = ("RUNNING", "FINISHED", "FAILED", "CRASHED", "KILLED")

MAX_FILTER_CHARS = 10_000
"""Longest filter string (and longest order-by item) accepted, in characters."""
MAX_FILTER_TERMS = 200
"""Most comparisons (``key op value`` terms) in one filter."""
MAX_IN_VALUES = 1_000
"""Most values in one ``IN`` / ``NOT IN`` list."""
MAX_ORDER_BY_ITEMS = 20
"""Most order-by items in one search."""
MAX_PAGE_OFFSET = 2**53 - 1
"""Largest result offset a page token may carry (JSON-safe, far below SQL's 64-bit limit)."""
_MAX_TOKEN_CHARS = 1_000
_SHOWN_CHARS = 120
_QUOTED_CHARS = 500
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_UNSAFE_CHARS = re.compile(r"[\x00\ud800-\udfff]")

_TIME_KEYS = frozenset({"start_time", "end_time"})
_NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")
_STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
_STATUS_OPS = ("=", "!=", "IN", "NOT IN")
_KEYWORDS = frozenset({"and", "or", "not", "in", "like", "ilike", "asc", "desc"})
_NUMBER_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INT_RE = re.compile(r"[+-]?\d+")
_OP_RE = re.compile(r"<=|>=|<>|!=|==|<|>|=")
_SPECIAL = set("()=,!<>'\"`")
_MAX_DEPTH = 64
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_HINT = (
    "Filters look like: metrics.loss < 0.2 and (params.model = 'rf' or tags.team = 'x'); "
    "order-by items like: metrics.loss DESC."
)


@dataclass(frozen=True)
class Comparison:
    """``<entity>.<key> <op> <value>``; ``entity`` is one of :data:`ENTITIES`.

    ``op`` is one of ``= != < <= > >= LIKE ILIKE IN NOT IN``; ``value`` is a tuple for
    ``IN`` / ``NOT IN``. Attribute keys are canonical (see :data:`ATTRIBUTE_KEYS`).
    """

    entity: str
    key: str
    op: str
    value: Value


@dataclass(frozen=True)
class And:
    """All of ``items`` hold."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    """At least one of ``items`` holds."""

    items: tuple[Expr, ...]


Expr = Comparison | And | Or


@dataclass(frozen=True)
class OrderBy:
    """Sort by ``<entity>.<key>``; missing values and NaN metrics sort last either way."""

    entity: str
    key: str
    ascending: bool = True


@dataclass(frozen=True)
class _Token:
    kind: str  # word | string | ident | op | lparen | rparen | comma | eof
    value: str
    pos: int
    end: int
    quote: str = ""


def _printable(text: str) -> str:
    """``text`` with NUL and lone surrogates as '?' (same length): a message must encode."""
    return _UNSAFE_CHARS.sub("?", text)


def _fail(source: str, text: str, pos: int, head: str, detail: str) -> InvalidInputError:
    text = _printable(text)
    shown, caret = text.replace("\n", " ").replace("\t", " ").replace("\r", " "), pos
    quoted = f' "{text}"'
    if len(text) > _QUOTED_CHARS:  # a long filter: name it by length, show the part around pos
        start = max(0, pos - _SHOWN_CHARS // 2)
        end = start + _SHOWN_CHARS
        shown = ("..." if start else "") + shown[start:end] + ("..." if end < len(text) else "")
        caret = pos - start + (3 if start else 0)
        quoted = f" ({len(text):,} characters)"
    message = f"{head} at position {pos} in {source}{quoted}: {detail}\n  {shown}\n  {' ' * caret}^"
    return InvalidInputError(_printable(message), hint=_HINT)


def _text_problem(text: str) -> str | None:
    """Why ``text`` cannot be sent to the database as a key or value, or None."""
    match = _UNSAFE_CHARS.search(text)
    if match is None:
        return None
    if match.group() == "\x00":
        return f"it contains a NUL character (at character {match.start()}), which cannot be stored"
    return f"it contains a lone surrogate {match.group()!r} (at character {match.start()}), not valid Unicode"


def _number_problem(entity: str, value: float | int) -> str | None:
    """Why ``value`` cannot be bound in a comparison with ``entity``'s column, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return "it is out of range for a 64-bit float"
    if _INT64_MIN <= value <= _INT64_MAX:
        return None
    if entity == "attributes":
        return "epoch milliseconds must fit a 64-bit integer"
    if isinstance(value, int):
        return "it is out of range for a 64-bit integer; write it as a float such as 1e40"
    return None


def _tokenize(text: str, source: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "(),":
            kind = {"(": "lparen", ")": "rparen", ",": "comma"}[ch]
            tokens.append(_Token(kind, ch, i, i + 1))
            i += 1
        elif ch in "'\"`":
            value, end = _read_quoted(text, i, source)
            tokens.append(_Token("ident" if ch == "`" else "string", value, i, end, ch))
            i = end
        elif ch in "=!<>":
            match = _OP_RE.match(text, i)
            if match is None:
                raise _fail(source, text, i, f"Unexpected character {ch!r}", "did you mean '!='?")
            op = {"<>": "!=", "==": "="}.get(match.group(), match.group())
            tokens.append(_Token("op", op, i, match.end()))
            i = match.end()
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in _SPECIAL:
                i += 1
            tokens.append(_Token("word", text[start:i], start, i))
    tokens.append(_Token("eof", "", n, n))
    return tokens


def _read_quoted(text: str, start: int, source: str) -> tuple[str, int]:
    quote, out, i = text[start], [], start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and quote != "`" and i + 1 < len(text) and text[i + 1] in (quote, "\\"):
            out.append(text[i + 1])
            i += 2
        elif ch == quote:
            if i + 1 < len(text) and text[i + 1] == quote:
                out.append(quote)
                i += 2
            else:
                return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise _fail(source, text, start, f"Unterminated string starting with {quote}",
                f"close it with a matching {quote}")  # fmt: skip


def _describe(token: _Token) -> str:
    return "end of input" if token.kind == "eof" else f"token {token.value!r}"


class _Parser:
    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.tokens = _tokenize(text, source)
        self.index = 0
        self.terms = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "eof":
            self.index += 1
        return token

    def error(self, token: _Token, detail: str, head: str | None = None) -> InvalidInputError:
        head = head or f"Unexpected {_describe(token)}"
        return _fail(self.source, self.text, token.pos, head, detail)

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "word" and token.value.lower() in words

    # -- grammar ------------------------------------------------------------------
    def parse_or(self, depth: int) -> Expr:
        items = [self.parse_and(depth)]
        while self.at_keyword("or"):
            self.advance()
            items.append(self.parse_and(depth))
        return items[0] if len(items) == 1 else Or(_flatten(items, Or))

    def parse_and(self, depth: int) -> Expr:
        items = [self.parse_primary(depth)]
        while self.at_keyword("and"):
            self.advance()
            items.append(self.parse_primary(depth))
        return items[0] if len(items) == 1 else And(_flatten(items, And))

    def parse_primary(self, depth: int) -> Expr:
        token = self.peek()
        if token.kind != "lparen":
            return self.parse_comparison()
        if depth >= _MAX_DEPTH:
            raise self.error(token, f"parentheses nest deeper than {_MAX_DEPTH} levels")
        self.advance()
        inner = self.parse_or(depth + 1)
        closing = self.peek()
        if closing.kind != "rparen":
            detail = f"expected and/or or ')' to close the '(' at position {token.pos}"
            raise self.error(closing, detail)
        self.advance()
        return inner

    def parse_identifier(self) -> tuple[str, str, _Token]:
        token = self.advance()
        if token.kind in ("ident", "string"):
            example = f"metrics.{token.quote}{token.value}{token.quote}"
            raise self.error(token, f"a quoted key needs an entity prefix, e.g. {example}")
        if token.kind != "word" or token.value.lower() in _KEYWORDS:
            raise self.error(token, "expected a key such as metrics.loss, params.lr or status")
        prefix, dot, key = token.value.partition(".")
        if not dot:
            attribute = _ATTRIBUTE_ALIASES.get(token.value.lower())
            if attribute is None:
                detail = (
                    f"a name without prefix must be an attribute ({', '.join(ATTRIBUTE_KEYS)});"
                    " use metrics., params. or tags. for anything else"
                )
                raise self.error(token, detail, head=f"Unknown attribute {token.value!r}")
            return "attributes", attribute, token
        entity = _ENTITY_ALIASES.get(prefix.lower())
        if entity is None:
            detail = "expected one of metrics., params., tags., attributes."
            raise self.error(token, detail, head=f"Unknown entity {prefix!r}")
        if not key:
            quoted = self.peek()
            adjacent = quoted.pos == token.end and quoted.kind in ("ident", "string")
            if not adjacent or quoted.quote == "'":
                detail = "quote keys with spaces in backquotes or double quotes: metrics.`my key`"
                raise self.error(token, detail, head=f"Missing key after {token.value!r}")
            self.advance()
            key = quoted.value
            if not key:
                raise self.error(quoted, "a key cannot be empty", head="Empty key")
        if entity == "attributes":
            attribute = _ATTRIBUTE_ALIASES.get(key.lower())
            if attribute is None:
                detail = f"expected one of {', '.join(ATTRIBUTE_KEYS)}"
                raise self.error(token, detail, head=f"Unknown attribute {key!r}")
            key = attribute
        problem = _text_problem(key)
        if problem is not None:
            raise self.error(token, f"a key must be valid Unicode without NUL: {problem}", head="Invalid key")
        return entity, key, token

    def parse_operator(self) -> tuple[str, _Token]:
        token = self.advance()
        if token.kind == "op":
            return token.value, token
        if token.kind == "word" and token.value.lower() in ("like", "ilike", "in"):
            return token.value.upper(), token
        if token.kind == "word" and token.value.lower() == "not":
            following = self.advance()
            if following.kind == "word" and following.value.lower() == "in":
                return "NOT IN", token
            raise self.error(following, "expected IN after NOT")
        detail = "expected an operator: =, !=, <>, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN"
        raise self.error(token, detail)

    def parse_scalar(self) -> tuple[Scalar, _Token]:
        token = self.advance()
        if token.kind == "string":
            return token.value, token
        if token.kind == "word" and _NUMBER_RE.fullmatch(token.value):
            number: int | float
            try:
                number = int(token.value) if _INT_RE.fullmatch(token.value) else float(token.value)
            except ValueError:  # more digits than int() converts: the float is out of range anyway
                number = float(token.value)
            return number, token
        if token.kind == "ident":
            raise self.error(token, "backquotes are for keys; quote values with ' or \"")
        raise self.error(token, "expected a value: a quoted string or a number")

    def parse_comparison(self) -> Comparison:
        entity, key, key_token = self.parse_identifier()
        self.terms += 1
        if self.terms > MAX_FILTER_TERMS:
            detail = f"a filter may have at most {MAX_FILTER_TERMS} comparisons; narrow it or search in steps"
            raise self.error(key_token, detail, head="Too many comparisons")
        op, op_token = self.parse_operator()
        self.check_operator(entity, key, op, op_token)
        if op not in ("IN", "NOT IN"):
            value, token = self.parse_scalar()
            return Comparison(entity, key, op, self.check_value(entity, key, value, token))
        opening = self.advance()
        if opening.kind != "lparen":
            raise self.error(opening, f"expected '(' after {op}, e.g. {op} ('a', 'b')")
        values = [self.parse_scalar()]
        while self.peek().kind == "comma":
            self.advance()
            if len(values) >= MAX_IN_VALUES:
                detail = f"an {op} list may have at most {MAX_IN_VALUES} values"
                raise self.error(self.peek(), detail, head=f"Too many values in the {op} list")
            values.append(self.parse_scalar())
        closing = self.advance()
        if closing.kind != "rparen":
            raise self.error(closing, f"expected ',' or ')' in the {op} list")
        checked = tuple(self.check_value(entity, key, v, t) for v, t in values)
        return Comparison(entity, key, op, checked)

    def check_operator(self, entity: str, key: str, op: str, token: _Token) -> None:
        allowed: tuple[str, ...]
        if _is_numeric(entity, key):
            allowed = _NUMERIC_OPS
        elif entity == "attributes" and key == "status":
            allowed = _STATUS_OPS
        else:
            allowed = _STRING_OPS
        if op not in allowed:
            name = f"{entity}.{key}"
            head = f"Operator {op} is not supported for {name}"
            raise self.error(token, f"{name} supports {', '.join(allowed)}", head=head)

    def check_value(self, entity: str, key: str, value: Scalar, token: _Token) -> Scalar:
        name = f"{entity}.{key}"
        if not _is_numeric(entity, key):
            if not isinstance(value, str):
                detail = f"{name} is compared as a string; quote it: '{token.value}'"
                raise self.error(token, detail, head=f"Unquoted value {token.value}")
            if entity == "attributes" and key == "status":
                if value.upper() not in RUN_STATUSES:
                    detail = f"status must be one of {', '.join(RUN_STATUSES)}"
                    raise self.error(token, detail, head=f"Unknown status {value!r}")
                return value.upper()
            problem = _text_problem(value)
            if problem is not None:
                raise self.error(token, f"{name} values must be valid Unicode without NUL: {problem}",
                                 head="Invalid string value")  # fmt: skip
            return value
        if isinstance(value, str):
            if entity == "attributes":
                millis = _iso_to_ms(value)
                if millis is None:
                    detail = f"{name} takes epoch milliseconds or ISO-8601 like '2024-05-01T12:00Z'"
                    raise self.error(token, detail, head=f"Invalid datetime {value!r}")
                return millis
            detail = f"{name} is compared with numbers; write it unquoted, e.g. {name} < 0.5"
            raise self.error(token, detail, head=f"String value {value!r}")
        if entity == "attributes" and isinstance(value, float) and value.is_integer():
            value = int(value)
        elif entity == "metrics" and isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX:
            try:  # metrics are 64-bit floats: compare a huge integer as one
                value = float(value)
            except OverflowError:
                value = math.inf
        problem = _number_problem(entity, value)
        if problem is not None:
            raise self.error(token, f"{name} cannot be compared with it: {problem}",
                             head=f"Number {_short(token.value)} out of range")  # fmt: skip
        return value


def _is_numeric(entity: str, key: str) -> bool:
    return entity == "metrics" or (entity == "attributes" and key in _TIME_KEYS)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{text[:limit - 3]}..."


def _check_length(text: str, source: str) -> None:
    if len(text) > MAX_FILTER_CHARS:
        raise InvalidInputError(
            f"The {source} is {len(text):,} characters long; at most {MAX_FILTER_CHARS:,} are accepted "
            f"(it starts {_printable(_short(text, 60))!r}).",
            hint="Narrow the filter, or split the search into several smaller ones.",
        )


def check_filter(expr: Expr | None) -> None:
    """Apply the parser's bounds to a filter AST (e.g. one built by hand).

    Raises :class:`InvalidInputError` for too many comparisons or ``IN`` values, a key or
    string that is not valid Unicode or contains NUL, or a number out of range.
    """
    if expr is None:
        return
    terms = 0
    pending: list[Expr] = [expr]
    while pending:
        item = pending.pop()
        if isinstance(item, (And, Or)):
            pending.extend(item.items)
            continue
        if not isinstance(item, Comparison):
            raise InvalidInputError(f"Not a search filter expression: {item!r}.")
        terms += 1
        if terms > MAX_FILTER_TERMS:
            raise InvalidInputError(f"A filter may have at most {MAX_FILTER_TERMS} comparisons.", hint=_HINT)
        _check_comparison(item)


def _check_comparison(item: Comparison) -> None:
    name = f"{item.entity}.{item.key}"
    key_problem = _text_problem(item.key) if isinstance(item.key, str) else "it is not a string"
    if key_problem is not None:
        raise InvalidInputError(f"Invalid key {_printable(item.key)!r} in a search filter: {key_problem}.")
    values = item.value if isinstance(item.value, tuple) else (item.value,)
    if len(values) > MAX_IN_VALUES:
        raise InvalidInputError(f"The {item.op} list of {name} has {len(values):,} values; at most {MAX_IN_VALUES:,}.")
    for value in values:
        if isinstance(value, str):
            problem = _text_problem(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            problem = _number_problem(item.entity, value)
        else:
            problem = f"a {type(value).__name__} is not a search value"
        if problem is not None:
            raise InvalidInputError(f"Invalid value {_printable(_short(repr(value)))} for {name} in a search filter: {problem}.")


def check_search_text(value: object, what: str) -> str:
    """``value`` if it is a string the database can take (valid Unicode, no NUL), else InvalidInputError."""
    problem = _text_problem(value) if isinstance(value, str) else f"it is a {type(value).__name__}, not a string"
    if problem is not None:
        raise InvalidInputError(f"Invalid {what} {_printable(_short(repr(value)))}: {problem}.")
    return value  # type: ignore[return-value]


def check_order_by(items: Sequence[OrderBy]) -> None:
    """Apply the parser's bounds to order-by items: their number and their keys."""
    if len(items) > MAX_ORDER_BY_ITEMS:
        raise InvalidInputError(f"At most {MAX_ORDER_BY_ITEMS} order_by items are accepted, got {len(items)}.")
    for item in items:
        problem = _text_problem(item.key) if isinstance(item.key, str) else "it is not a string"
        if problem is not None:
            raise InvalidInputError(f"Invalid order_by key {_printable(item.key)!r}: {problem}.")


def _flatten(items: list[Expr], kind: type[And] | type[Or]) -> tuple[Expr, ...]:
    flat: list[Expr] = []
    for item in items:
        flat.extend(item.items if isinstance(item, kind) else (item,))
    return tuple(flat)


def _iso_to_ms(text: str) -> int | None:
    candidate = text.strip()
    if candidate[-1:] in ("Z", "z"):
        candidate = candidate[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def parse_filter(text: str | None) -> Expr | None:
    """Parse a run filter string into an :data:`Expr`; ``None`` / blank means no filter.

    Raises :class:`InvalidInputError` naming the bad token and its position.
    """
    if text is None:
        return None
    if not isinstance(text, str):
        message = f"A filter must be a string, not {type(text).__name__}."
        raise InvalidInputError(message, hint=_HINT)
    if not text.strip():
        return None
    _check_length(text, "filter")
    parser = _Parser(text, "filter")
    expr = parser.parse_or(0)
    token = parser.peek()
    if token.kind == "rparen":
        raise parser.error(token, "there is no '(' to close", head="Unmatched ')'")
    if token.kind != "eof":
        raise parser.error(token, "expected and/or")
    return expr


def parse_order_by(items: Sequence[str] | str | None) -> tuple[OrderBy, ...]:
    """Parse order-by items such as ``"metrics.loss DESC"`` or ``"start_time"`` (ASC default).

    A single string is treated as one item. Raises :class:`InvalidInputError`.
    """
    if items is None:
        return ()
    if isinstance(items, str):
        items = [items]
    items = list(items)
    if len(items) > MAX_ORDER_BY_ITEMS:
        raise InvalidInputError(f"At most {MAX_ORDER_BY_ITEMS} order_by items are accepted, got {len(items):,}.")
    result: list[OrderBy] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            message = f"Invalid order_by item {item!r}: expected e.g. 'metrics.loss DESC'."
            raise InvalidInputError(_printable(message), hint=_HINT)
        _check_length(item, "order_by item")
        parser = _Parser(item, "order_by item")
        entity, key, _ = parser.parse_identifier()
        ascending = True
        if parser.at_keyword("asc", "desc"):
            ascending = parser.advance().value.lower() == "asc"
        token = parser.peek()
        if token.kind != "eof":
            raise parser.error(token, "expected ASC, DESC or the end of the item")
        result.append(OrderBy(entity, key, ascending))
    return tuple(result)


def encode_page_token(offset: int) -> str:
    """Encode a result offset as an opaque page token (base64 of ``{"offset": n}``)."""
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_PAGE_OFFSET:
        raise InvalidInputError(f"A page offset must be an integer from 0 to {MAX_PAGE_OFFSET}, not {offset!r}.")
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode("utf-8")).decode("ascii")


def decode_page_token(token: str) -> int:
    """Decode a token made by :func:`encode_page_token`; a tampered token is rejected.

    Anything else (not a string, too long, not base64 of ``{"offset": n}``, ``n`` outside
    0..:data:`MAX_PAGE_OFFSET`) raises :class:`InvalidInputError`.
    """
    data: object = None
    if isinstance(token, str) and len(token) <= _MAX_TOKEN_CHARS:
        try:
            raw = base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True)
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeError, binascii.Error, ValueError, RecursionError):
            data = None
    offset = data.get("offset") if isinstance(data, dict) and set(data) == {"offset"} else None
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_PAGE_OFFSET:
        text = _printable(str(token))
        shown = text if len(text) <= 80 else f"{text[:77]}..."
        raise InvalidInputError(
            f"Invalid page token {shown!r}.",
            hint="Pass the next_page_token returned by the previous search unchanged.",
        )
    return offset
