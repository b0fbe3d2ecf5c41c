"""The spool: records appended durably, replayed by ``trackflow sync`` exactly once.

Real stores (SQLite and PostgreSQL), real files, real processes for concurrent syncs and
for the replay a later start of trackflow does in the background.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import invoke
from process_helpers import free_port

from trackflow.exceptions import InvalidInputError
from trackflow.settings import TrackflowSettings
from trackflow.tracking.batch import Batch, batch_record
from trackflow.tracking.client import Client
from trackflow.tracking.entities import RunStatus
from trackflow.tracking.fingerprint import fingerprint_dataset
from trackflow.tracking.resilience import offline_run
from trackflow.tracking.spool import SPOOL_DIR, Spool, file_lock, pending_files, read_spool_file

STEPS = 5


def _home() -> Path:
    return Path(os.environ["TRACKFLOW_HOME"])


def _spool_run_values(client: Client, *, steps: int = STEPS, experiment: str = "spooled") -> tuple[str, Path]:
    """A run created directly, whose params, tags, metrics, end, output dataset and an edge
    are in a new spool file (as a process would have spooled them)."""
    run = client.create_run(experiment, run_name="r")
    batch = Batch(
        params={run.id: {"lr": "0.1"}},
        tags={run.id: {"stage": "train"}},
        metrics=[(run.id, "loss", 1.0 / (s + 1), s, 1_700_000_000_000 + s) for s in range(steps)],
        updates={run.id: {"status": "FINISHED", "end_time": 1_700_000_010_000}},
    )
    fp = fingerprint_dataset(pd.DataFrame({"a": [1, 2, 3]}))
    uri = client.tracking_uri
    path = Spool(_home() / SPOOL_DIR).append([
        batch_record(batch, uri),
        {"uri": uri, "op": "dataset", "run_id": run.id, "name": "out", "role": "output", "fingerprint": dataclasses.asdict(fp)},
        {"uri": uri, "op": "edges", "edges": [{"source": f"run:{run.id}", "target": "dataset:cafe", "relation": "cached_from",
                                               "run_id": run.id, "name": None, "created_at": 1}]},
    ])  # fmt: skip
    return run.id, path


def _assert_stored_once(client: Client, run_id: str, *, steps: int = STEPS) -> None:
    run = client.get_run(run_id)
    assert run.status is RunStatus.FINISHED and run.params == {"lr": "0.1"} and run.tags["stage"] == "train"
    assert sorted(m.step for m in client.get_metric_history(run_id, "loss")) == list(range(steps))
    outputs = client.get_datasets(run_id, role="output")
    assert [(d.name, d.dataset.num_rows) for d in outputs] == [("out", 3)]
    edges = [e for e in client.lineage(run_id, direction="downstream").edges if e.relation == "cached_from"]
    assert len(edges) == 1


def test_a_torn_last_line_is_ignored_and_every_value_is_stored_once(client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    run_id, path = _spool_run_values(client)
    with open(path, "ab") as handle:  # a process killed while appending
        handle.write(b'{"v":1,"uri":"sqlite:///x.db","op":"batch","metrics":[["')
    assert len(read_spool_file(path).records) == 3
    code, out, err = invoke(["sync"], capsys)
    assert code == 0, err
    assert "3/3 record(s) stored" in out and "file removed" in out
    assert not path.exists()
    _assert_stored_once(client, run_id)


def test_replaying_a_file_twice_adds_nothing(client: Client, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    run_id, path = _spool_run_values(client)
    kept = tmp_path / "copy.jsonl"
    shutil.copy(path, kept)
    assert invoke(["sync"], capsys)[0] == 0
    shutil.copy(kept, path)  # a sync killed after writing, before removing the file
    assert invoke(["sync"], capsys)[0] == 0
    _assert_stored_once(client, run_id)


def test_an_appender_after_a_replay_writes_a_new_file(client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    spool = Spool(_home() / SPOOL_DIR)
    run = client.create_run("spooled")
    uri = client.tracking_uri
    spool.append([batch_record(Batch(metrics=[(run.id, "m", 1.0, 0, 1)]), uri)])
    assert invoke(["sync"], capsys)[0] == 0 and not spool.path.exists()
    spool.append([batch_record(Batch(metrics=[(run.id, "m", 2.0, 1, 2)]), uri)])  # same process, later
    assert spool.has_pending(uri)
    assert invoke(["sync"], capsys)[0] == 0
    assert [m.value for m in client.get_metric_history(run.id, "m")] == [1.0, 2.0]
    assert not spool.has_pending(uri)


def test_syncs_while_a_live_process_appends_keep_every_record(
    client: Client, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run = client.create_run("spooled")
    stop = tmp_path / "stop"
    script = textwrap.dedent(
        f"""
        import os, time
        from pathlib import Path
        from trackflow.tracking.batch import Batch, batch_record
        from trackflow.tracking.spool import Spool

        spool = Spool(Path(os.environ["TRACKFLOW_HOME"]) / "spool")
        i = 0
        while not Path({str(stop)!r}).exists():  # appends until the test has synced a few times
            spool.append([batch_record(Batch(metrics=[({run.id!r}, "m", float(i), i, 1000 + i)]), {client.tracking_uri!r})])
            i += 1
            time.sleep(0.002)
        print(i)
        """
    )
    appender = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    spool_dir = _home() / SPOOL_DIR
    deadline = time.monotonic() + 120
    while not pending_files(spool_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    for _ in range(3):  # each sync replays what is complete and keeps what is appended meanwhile
        assert appender.poll() is None
        code, _, err = invoke(["sync"], capsys)
        assert code == 0, err
    stop.touch()
    out, _ = appender.communicate(timeout=120)
    appended = int(out.strip())
    assert appender.returncode == 0 and appended > 0
    assert invoke(["sync"], capsys)[0] == 0
    assert [m.step for m in client.get_metric_history(run.id, "m")] == list(range(appended))


def test_values_in_an_older_file_than_their_run_are_stored(client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    uri = client.tracking_uri
    run, record = offline_run(uri, ("spooled",), {"run_name": "late", "params": {"lr": 0.5}})
    older = Spool(_home() / SPOOL_DIR)
    time.sleep(0.01)  # file names sort by their process's start
    newer = Spool(_home() / SPOOL_DIR)
    older.append([batch_record(Batch(metrics=[(run.id, "m", 1.0, 0, 1)]), uri)])  # e.g. a child process's values
    newer.append([record])
    assert pending_files(_home() / SPOOL_DIR) == [older.path, newer.path]
    code, out, err = invoke(["sync"], capsys)
    assert code == 0 and "dropped" not in out, (out, err)
    stored = client.get_run(run.id)
    assert stored.name == "late" and stored.params == {"lr": "0.5"} and stored.status is RunStatus.RUNNING
    assert [m.value for m in client.get_metric_history(run.id, "m")] == [1.0]


def test_concurrent_syncs_store_each_value_once(client: Client) -> None:
    runs = [_spool_run_values(client, steps=50)[0] for _ in range(6)]
    command = [sys.executable, "-m", "trackflow.cli.main", "sync"]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert pending_files(_home() / SPOOL_DIR) == []
    for run_id in runs:
        _assert_stored_once(client, run_id, steps=50)


def test_a_sync_does_not_run_while_another_holds_the_lock(client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    run_id, path = _spool_run_values(client)
    with file_lock(_home() / SPOOL_DIR / ".lock", create=True) as fd:
        assert fd is not None
        code, out, _ = invoke(["sync", "--no-wait"], capsys)
    assert code == 0 and "Another trackflow sync" in out and path.exists()
    assert invoke(["sync"], capsys)[0] == 0
    _assert_stored_once(client, run_id)


def test_a_file_for_an_unreachable_database_is_kept(tracking_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    uri = f"postgresql+psycopg://user:secret@127.0.0.1:{free_port()}/nowhere"
    path = Spool(tracking_home / SPOOL_DIR).append([batch_record(Batch(metrics=[("a" * 32, "m", 1.0, 0, 1)]), uri)])
    code, out, err = invoke(["sync"], capsys)
    assert code == 1 and "file kept" in out and "still unavailable" in err
    assert "secret" not in out + err  # the password is never printed
    assert path.exists() and len(read_spool_file(path).records) == 1


def test_sync_with_nothing_to_do(tracking_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke(["sync"], capsys)
    assert code == 0 and "Nothing to sync" in out


def test_a_later_start_replays_the_spool_in_the_background(client: Client) -> None:
    run_id, path = _spool_run_values(client)
    script = textwrap.dedent(
        """
        import time
        from pathlib import Path
        import os
        from trackflow import Client
        from trackflow.tracking.spool import pending_files

        Client()  # the first store use of this process in the home
        spool = Path(os.environ["TRACKFLOW_HOME"]) / "spool"
        deadline = time.monotonic() + 60
        while pending_files(spool) and time.monotonic() < deadline:
            time.sleep(0.05)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    assert not path.exists()
    _assert_stored_once(client, run_id)


@pytest.mark.parametrize(("raw", "expected"), [(None, 60.0), ("0", 0.0), ("2.5", 2.5)])
def test_the_retry_window_setting(raw: str | None, expected: float) -> None:
    env = {} if raw is None else {"TRACKFLOW_STORE_RETRY_SECONDS": raw}
    assert TrackflowSettings.from_env(env).store_retry_seconds == expected


@pytest.mark.parametrize("raw", ["-1", "soon"])
def test_a_bad_retry_window_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInputError, match="TRACKFLOW_STORE_RETRY_SECONDS"):
        TrackflowSettings.from_env({"TRACKFLOW_STORE_RETRY_SECONDS": raw})
