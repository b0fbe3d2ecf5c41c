"""Connected lineage on a pipeline of our own (wine: load -> clean -> split -> train -> evaluate -> register).

One model node per trained model, values followed between tasks, the registered version
hanging off the model node, scoped graphs with groups instead of ``part_of`` edges, and
dataset labels that do not depend on where the graph starts.
"""

from __future__ import annotations

import pandas as pd
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

import trackflow as tf
from trackflow import flow, task
from trackflow.tasks import register_model
from trackflow.tracking.entities import Run

TARGET = "target"


@task
def load_wine_frame() -> pd.DataFrame:
    return load_wine(as_frame=True).frame


@task
def clean(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["alcohol"] > 11.5].drop(columns=["magnesium"]).reset_index(drop=True)


@task
def split(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    train_df, test_df = train_test_split(df, test_size=0.3, random_state=0)
    return train_df, test_df


@task
def fit_tree(train_df: pd.DataFrame, depth: int = 3) -> DecisionTreeClassifier:
    return DecisionTreeClassifier(max_depth=depth, random_state=0).fit(train_df.drop(columns=TARGET), train_df[TARGET])


@task
def fit_linear(train_df: pd.DataFrame) -> LogisticRegression:
    return LogisticRegression(max_iter=2000).fit(train_df.drop(columns=TARGET), train_df[TARGET])


@task
def evaluate(model: object, test_df: pd.DataFrame) -> dict[str, float]:
    return {"accuracy": float(model.score(test_df.drop(columns=TARGET), test_df[TARGET]))}  # type: ignore[attr-defined]


@flow(name="wine-lineage", experiment="wine-lineage")
def wine_pipeline(depth: int = 3) -> dict[str, float]:
    train_df, test_df = split(clean(load_wine_frame()))
    tree = fit_tree(train_df, depth)
    linear = fit_linear(train_df)
    scores = evaluate(tree, test_df)
    evaluate(linear, test_df)
    register_model(tree, name="wine-tree", stage="staging")
    return scores


def _tasks(client: tf.Client, flow_run: Run) -> dict[str, list[Run]]:
    found: dict[str, list[Run]] = {}
    for child in client.get_child_runs(flow_run.id):
        found.setdefault(child.tags["prefect.task"], []).append(child)
    return found


def _flow_runs(client: tf.Client) -> list[Run]:
    return client.search_runs("wine-lineage", "attributes.kind = 'flow'", order_by=["start_time ASC"])


def test_evaluate_reaches_its_model_the_train_run_and_the_training_data() -> None:
    wine_pipeline()
    client = tf.Client()
    (flow_run,) = _flow_runs(client)
    tasks = _tasks(client, flow_run)
    (tree_run,) = tasks["fit_tree"]
    (train_input,) = client.get_datasets(tree_run.id, role="input")
    tree_eval = next(r for r in tasks["evaluate"] if r.params.get("model") == "DecisionTreeClassifier")

    graph = client.lineage(tree_eval.id, direction="upstream")
    models = [n for n in graph.nodes.values() if n.kind == "model"]
    assert [m.id for m in models] == [f"model:runs:/{tree_run.id}/model"]  # one node, not one per file
    assert models[0].attributes["class"].endswith("DecisionTreeClassifier")
    assert models[0].label == f"DecisionTreeClassifier ({tree_run.name})"
    assert len(models[0].attributes["payload_sha256"]) == 64
    assert tree_run.ref in graph.nodes and train_input.dataset.ref in graph.nodes
    assert not any(n.kind == "artifact" for n in graph.nodes.values())
    assert (models[0].id, "input", tree_eval.ref) in {(e.source, e.relation, e.target) for e in graph.edges}

    # two trained models: two model nodes in the flow's graph, each evaluated separately
    flow_graph = client.lineage(flow_run.id)
    assert len([n for n in flow_graph.nodes.values() if n.kind == "model"]) == 2


def test_registered_version_hangs_off_the_model_node_and_reaches_the_training_data() -> None:
    wine_pipeline()
    client = tf.Client()
    (flow_run,) = _flow_runs(client)
    (tree_run,) = _tasks(client, flow_run)["fit_tree"]
    (train_input,) = client.get_datasets(tree_run.id, role="input")

    version = client.registry.get_version("wine-tree", 1)
    assert version.run_id == tree_run.id and version.source == f"runs:/{tree_run.id}/model"  # no second package
    graph = client.lineage("models:/wine-tree/1", direction="upstream")
    edges = {(e.source, e.relation, e.target) for e in graph.edges}
    assert (f"model:runs:/{tree_run.id}/model", "registered_as", "model:wine-tree/1") in edges
    assert tree_run.ref in graph.nodes and train_input.dataset.ref in graph.nodes
    assert flow_run.ref not in {e.source for e in graph.edges}  # not hanging off the flow run
    assert [n.kind for n in graph.nodes.values()].count("model") == 1


def test_scopes_groups_and_stable_labels() -> None:
    wine_pipeline()
    wine_pipeline(depth=4)
    client = tf.Client()
    first, second = _flow_runs(client)

    scoped = client.lineage(second.id)  # a flow run: scope "run" by default
    first_runs = {first.ref, *(c.ref for c in client.get_child_runs(first.id))}
    assert not first_runs & set(scoped.nodes)
    assert not any(e.relation == "part_of" for e in scoped.edges)
    second_tasks = [c.ref for c in client.get_child_runs(second.id)]
    assert all(scoped.groups[ref] == second.ref for ref in second_tasks)

    everything = client.lineage(second.id, scope="all")  # the same data was used by the first run too
    assert first_runs & set(everything.nodes)

    # the same dataset has the same label wherever the graph starts
    (load_run,) = _tasks(client, second)["load_wine_frame"]
    (raw,) = client.get_datasets(load_run.id, role="output")
    labels = {
        client.lineage(root, scope="all").nodes[raw.dataset.ref].label
        for root in (second.id, load_run.id, raw.dataset.ref, *(c.id for c in _tasks(client, second)["clean"]))
    }
    assert len(labels) == 1 and labels.pop().startswith("load_wine_frame.output (")


def test_report_embeds_the_svg_diagram_and_lists_each_dataset_once() -> None:
    import base64
    import re
    import xml.etree.ElementTree as ET

    from trackflow.dashboard.run_report import collect_summary, render_markdown

    wine_pipeline()
    client = tf.Client()
    (flow_run,) = _flow_runs(client)
    markdown = render_markdown(collect_summary(flow_run.id), flow_name="wine-lineage")
    image = re.search(r"!\[lineage\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", markdown)
    assert image is not None
    svg = base64.b64decode(image.group(1)).decode("utf-8")
    ET.fromstring(svg)  # a well-formed document
    assert "DecisionTreeClassifier" in svg and "wine-tree v1" in svg
    assert "<details><summary>Mermaid source</summary>" in markdown and "```mermaid\ngraph TD" in markdown
    datasets = markdown.split("## Datasets", 1)[1].split("## Models", 1)[0]
    assert datasets.count("load_wine_frame.output (") == 1  # load's output is clean's input: one row
    assert "| wine-tree v1 |" in markdown.split("## Models", 1)[1].split("## Notes", 1)[0]
