"""Request bodies of the model server: JSON documents (records, split frames, instances) and CSV.

Every malformed body raises :class:`~trackflow.exceptions.InvalidInputError` (a 422) whose
message names the problem; more rows than the server accepts raise :class:`TooManyRowsError`
(a 413).
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

from trackflow.exceptions import InvalidInputError

__all__ = ["CSV_HINT", "PAYLOAD_HINT", "TooManyRowsError", "is_csv", "parse_body", "parse_csv", "parse_payload"]

PAYLOAD_HINT = (
    'Send [{"col": value, ...}, ...], {"dataframe_records": [...]} or '
    '{"dataframe_split": {"columns": [...], "data": [[...], ...]}}.'
)
CSV_HINT = "Send 'Content-Type: text/csv' with a header line of column names, then one line per row."
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class TooManyRowsError(InvalidInputError):
    """The request has more rows than the server's ``max_rows`` (answered with a 413)."""


def _short(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:12]}...{text[-6:]} ({len(text)} characters)"


def _parse_int(text: str) -> int:
    digits = text.lstrip("-")
    value = int(text) if len(digits) <= 20 else None
    if value is None or not _INT64_MIN <= value <= _INT64_MAX:
        raise InvalidInputError(f"The number {_short(text)} is out of range: integers must fit in 64 bits "
                                f"({_INT64_MIN} to {_INT64_MAX}).", hint="Send large values as floats (1e30).")
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise InvalidInputError(f"The number {_short(text)} is out of range for a 64-bit float (about 1.8e308).",
                                hint=PAYLOAD_HINT)
    return value


def parse_body(body: bytes) -> Any:
    """The JSON document in a request body; bad JSON, numbers out of range or too deep nesting raise."""
    if not body.strip():
        raise InvalidInputError("The request body is empty: send a JSON document.", hint=PAYLOAD_HINT)
    try:
        return json.loads(body, parse_int=_parse_int, parse_float=_parse_float)
    except InvalidInputError:
        raise
    except RecursionError:
        raise InvalidInputError("The request body is not valid JSON: it is nested too deeply.",
                                hint=PAYLOAD_HINT) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise InvalidInputError(f"The request body is not valid JSON: {exc}", hint=PAYLOAD_HINT) from None


def _check_rows(count: int, max_rows: int | None) -> None:
    if max_rows is not None and count > max_rows:
        raise TooManyRowsError(f"The request has {count} rows; this server accepts at most {max_rows} rows per "
                               f"request (--max-rows).", hint="Split the input into smaller requests.")


def _row_count(value: Any) -> int:
    if isinstance(value, dict):  # columnar: {"col": [values...]}
        return max((len(v) for v in value.values() if isinstance(v, list)), default=1)
    return len(value) if isinstance(value, list) else 1


def _split_index(index: Any, rows: int) -> list[Any] | None:
    if index is None:
        return None
    if not isinstance(index, list):
        raise InvalidInputError(f"dataframe_split.index must be a list with one label per row, got "
                                f"{type(index).__name__}.", hint=PAYLOAD_HINT)
    if len(index) != rows:
        raise InvalidInputError(f"dataframe_split.index has {len(index)} labels but data has {rows} rows: "
                                f"give one label per row (or leave index out).", hint=PAYLOAD_HINT)
    if not all(isinstance(i, (str, int, float)) and not isinstance(i, bool) for i in index):
        raise InvalidInputError("dataframe_split.index labels must be strings or numbers.", hint=PAYLOAD_HINT)
    return index


def parse_payload(payload: Any, *, max_rows: int | None = None) -> Any:
    """The model input in a request body (records, split frame, instances); 4xx-worthy errors raise.

    More than ``max_rows`` rows raises :class:`TooManyRowsError`.
    """
    import pandas as pd

    if isinstance(payload, list):
        _check_rows(len(payload), max_rows)
        return payload
    if not isinstance(payload, dict):
        raise InvalidInputError(f"The request body must be a JSON list or object, got {type(payload).__name__}.",
                                hint=PAYLOAD_HINT)
    keys = [k for k in ("dataframe_records", "dataframe_split", "instances", "inputs") if k in payload]
    if len(keys) != 1:
        found = ", ".join(sorted(map(str, payload))) or "no keys"
        raise InvalidInputError(f"The request body needs exactly one of dataframe_records, dataframe_split, "
                                f"instances or inputs (found {found}).", hint=PAYLOAD_HINT)
    value = payload[keys[0]]
    if keys[0] != "dataframe_split":
        if not isinstance(value, (list, dict)):
            raise InvalidInputError(f"{keys[0]} must be a list of records, got {type(value).__name__}.",
                                    hint=PAYLOAD_HINT)
        _check_rows(_row_count(value), max_rows)
        return value
    if not isinstance(value, dict) or not isinstance(value.get("data"), list):
        raise InvalidInputError("dataframe_split must be an object with 'columns' and a 'data' list of rows.",
                                hint=PAYLOAD_HINT)
    columns = value.get("columns")
    if columns is not None and (not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)):
        raise InvalidInputError("dataframe_split.columns must be a list of column names.", hint=PAYLOAD_HINT)
    rows = value["data"]
    _check_rows(len(rows), max_rows)
    if not rows or not all(isinstance(r, list) for r in rows):
        raise InvalidInputError("dataframe_split.data must be a non-empty list of rows (lists).", hint=PAYLOAD_HINT)
    widths = {len(r) for r in rows}
    if len(widths) != 1 or (columns is not None and widths != {len(columns)}):
        expected = f"{len(columns)} values (one per column)" if columns is not None else "the same number of values"
        raise InvalidInputError(f"Every row of dataframe_split.data must have {expected}.", hint=PAYLOAD_HINT)
    index = _split_index(value.get("index"), len(rows))
    if columns is None:
        return rows
    try:
        return pd.DataFrame(rows, columns=columns, index=index)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidInputError(f"dataframe_split could not be read as a table: {exc}", hint=PAYLOAD_HINT) from None



def is_csv(content_type: str | None) -> bool:
    """True for a ``text/csv`` (or ``application/csv``) Content-Type, parameters aside."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media in ("text/csv", "application/csv")


def parse_csv(body: bytes, *, max_rows: int | None = None) -> Any:
    """A CSV body (a header line, then one line per row) as a DataFrame, as ``mlflow models serve`` reads it."""
    import pandas as pd

    if not body.strip():
        raise InvalidInputError("The request body is empty: send a header line and one line per row.",
                                hint=CSV_HINT)
    try:
        frame = pd.read_csv(io.BytesIO(body))
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InvalidInputError(f"The request body is not valid CSV: {exc}", hint=CSV_HINT) from None
    if frame.empty:
        raise InvalidInputError("The CSV body has a header but no rows.", hint=CSV_HINT)
    _check_rows(len(frame), max_rows)
    return frame
