"""Flows written with ``from __future__ import annotations`` validate their parameters."""

from __future__ import annotations

import pandas as pd

import trackflow as tf


@tf.task
def count_rows(df: pd.DataFrame) -> int:
    return len(df)


@tf.flow(experiment="annotations")
def count_flow(df: pd.DataFrame, label: str = "x") -> int:
    return count_rows(df)


def test_string_annotations_resolve_in_the_users_module() -> None:
    assert count_flow(pd.DataFrame({"a": [1, 2, 3]})) == 3
    runs = tf.Client().search_runs("annotations", filter="attributes.kind = 'flow'")
    assert len(runs) == 1 and runs[0].status.value == "FINISHED" and runs[0].params["label"] == "x"
