"""The pipeline of the issue, written exactly as a user would (imported by several tests)."""

from __future__ import annotations

import pandas as pd
from sklearn.ensemble import RandomForestClassifier

import trackflow as tf
from trackflow import flow, task

TARGET = "churned"


@task
def load(path: str) -> pd.DataFrame:
    return pd.read_csv(path)


@task(retries=2)
def featurize(df: pd.DataFrame, scale: bool = True) -> pd.DataFrame:
    out = df.copy()
    if scale:
        features = [c for c in out.columns if c != TARGET]
        out[features] = (out[features] - out[features].mean()) / out[features].std()
    return out


@task
def train(df: pd.DataFrame, n_estimators: int = 100) -> RandomForestClassifier:
    model = RandomForestClassifier(n_estimators=n_estimators, max_depth=4, random_state=0)
    return model.fit(df.drop(columns=[TARGET]), df[TARGET])


@task
def evaluate(model: RandomForestClassifier, df: pd.DataFrame) -> dict[str, float]:
    predicted = model.predict(df.drop(columns=[TARGET]))
    return {"accuracy": float((predicted == df[TARGET]).mean()), "rows": float(len(df))}


@flow(experiment="churn")
def pipeline(path: str = "data/churn.csv", n_estimators: int = 100) -> dict[str, float]:
    df = featurize(load(path))
    model = train(df, n_estimators)
    tf.note("Chose RF over GBM", kind="decision")
    return evaluate(model, df)
