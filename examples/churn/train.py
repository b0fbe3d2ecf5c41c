"""The reference pipeline from Python: a retraining pair on data bundled with scikit-learn.

    python examples/churn/train.py

The first run goes to production (there is nothing to beat); the second, a deliberately
weak model, fails the promotion policy and stays in staging, with the reason recorded.
Then a tracked batch-scoring flow scores data with the production model.
"""

from __future__ import annotations

import os
from typing import Any

# Prefect's temporary server can take longer than its 20 s default to start the first time.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from sklearn.datasets import load_breast_cancer  # noqa: E402

import trackflow as tf  # noqa: E402
from trackflow.flows.pipelines import training_pipeline  # noqa: E402
from trackflow.tasks.deploy import deploy_model  # noqa: E402
from trackflow.tasks.scoring import score_batch  # noqa: E402

POLICY = "metrics.roc_auc >= production.metrics.roc_auc"


@tf.flow(name="nightly-scoring", experiment="churn")
def nightly_scoring(limit: int = 100) -> Any:
    """Score a batch with the production model and record where it is used."""
    batch = load_breast_cancer(as_frame=True).data.head(limit)
    scored = score_batch("models:/churn-clf/production", batch)
    deploy_model("models:/churn-clf/production", target="batch://nightly-scoring")
    return scored


def main() -> None:
    """Train twice, show the registry's decisions, then score a batch."""
    common: dict[str, Any] = {"model_name": "churn-clf", "stage": "staging", "promote_if": POLICY}
    strong = training_pipeline(estimator="sklearn.ensemble.RandomForestClassifier",
                               estimator_params={"n_estimators": 100}, **common)
    weak = training_pipeline(estimator="sklearn.tree.DecisionTreeClassifier",
                             estimator_params={"max_depth": 1}, **common)
    for result in (strong, weak):
        print(f"version {result.version}: roc_auc={result.metrics['roc_auc']:.4f} -> {result.stage}")
    for step in tf.Client().registry.history("churn-clf"):
        print(f"  v{step.version} {step.from_stage.value if step.from_stage else 'new'} -> {step.to_stage.value}: "
              f"{step.reason}")
    scored = nightly_scoring()
    print(f"scored {len(scored)} rows; lineage: trackflow lineage models:/churn-clf/{strong.version}")


if __name__ == "__main__":
    main()
