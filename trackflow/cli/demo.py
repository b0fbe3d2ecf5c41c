"""``trackflow quickstart`` (tracking-only edition): train a small model and track it.

Replaced by the reference Prefect pipeline when ``trackflow.cli.pipelines`` provides
its own ``quickstart``.
"""

from __future__ import annotations

import typer

__all__ = ["register"]


def quickstart() -> None:
    """Train a classifier on a bundled scikit-learn dataset and print the tracked run."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    import trackflow as tf

    data = load_breast_cancer(as_frame=True)
    train_x, test_x, train_y, test_y = train_test_split(data.data, data.target, test_size=0.25, random_state=0)
    with tf.start_run(experiment="quickstart", run_name="random-forest") as run:
        params = {"n_estimators": 50, "max_depth": 6, "random_state": 0}
        tf.log_params(params)
        tf.log_dataset(train_x.assign(target=train_y), name="train", role="input")
        model = RandomForestClassifier(**params).fit(train_x, train_y)
        scores = model.predict_proba(test_x)[:, 1]
        tf.log_metrics({"accuracy": accuracy_score(test_y, model.predict(test_x)), "roc_auc": roc_auc_score(test_y, scores)})
        tf.note("Random forest as a strong, cheap baseline", kind="decision")
    stored = tf.Client().get_run(run.id)
    typer.echo(f"Tracked run {stored.id} ({stored.name}) in experiment {stored.experiment_name!r}: {stored.status.value}")
    for key, value in stored.metrics.items():
        typer.echo(f"  {key:<10} {value:.4f}")
    typer.echo(f"See it with: trackflow runs show {stored.id}")


def register(app: typer.Typer) -> None:
    """Add ``quickstart`` unless a fuller one is registered already."""
    if not any(command.name == "quickstart" for command in app.registered_commands):
        app.command("quickstart")(quickstart)
