"""README.md's examples are true as written: every ```python, ```bash and ```console block
runs, top to bottom, on a fresh TRACKFLOW_HOME and PREFECT_HOME.

A block preceded by ``<!-- readme-test: skip (reason) -->`` is not run (servers that run
until Ctrl-C, installs, the whole test suite); there are few and each says why. The blocks
run in a temporary folder holding a copy of ``examples/`` (what they read from "the
repository's root"): python blocks each in a fresh interpreter, shell blocks with bash
(``set -euo pipefail``) and this environment's ``trackflow`` first on PATH. Each block
runs without PREFECT_API_URL, as a newcomer's would: on Prefect's temporary server.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_helpers import invoke

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RUN_LANGUAGES = ("python", "bash", "console")
SKIP = re.compile(r"^<!--\s*readme-test:\s*skip\s*\((?P<why>[^)]+)\)\s*-->$")
FENCE = re.compile(r"^```(?P<lang>[A-Za-z0-9_+-]*)\s*$")
MAX_SKIPPED = 8  # a README whose examples mostly do not run is not tested by this file


@dataclass(frozen=True)
class Block:
    """One fenced code block of the README."""

    lang: str
    code: str
    line: int  # of the opening fence, 1-based
    skip: str | None  # the reason given in the comment above it, or None

    def label(self) -> str:
        first = next((line for line in self.code.splitlines() if line.strip()), "")
        return f"README.md line {self.line} ({self.lang}: {first.strip()[:60]})"


def readme_blocks(text: str) -> list[Block]:
    """Every fenced block, with the skip reason of the comment right above it (blank lines aside)."""
    blocks: list[Block] = []
    lines = text.splitlines()
    index, previous = 0, ""
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            if lines[index].strip():
                previous = lines[index].strip()
            index += 1
            continue
        end = next((j for j in range(index + 1, len(lines)) if lines[j].startswith("```")), None)
        assert end is not None, f"README.md line {index + 1}: the code block is never closed"
        skip = SKIP.match(previous)
        blocks.append(Block(opening.group("lang").lower(), "\n".join(lines[index + 1:end]) + "\n", index + 1,
                            skip.group("why") if skip else None))
        index, previous = end + 1, ""
    return blocks


def _runnable(blocks: list[Block]) -> list[Block]:
    return [b for b in blocks if b.lang in RUN_LANGUAGES and b.skip is None]


def _shell(block: Block) -> str:
    if block.lang != "console":
        return block.code
    return "\n".join(line[2:] for line in block.code.splitlines() if line.startswith("$ ")) + "\n"


def test_the_readme_marks_its_few_blocks_that_do_not_run() -> None:
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    skipped = [b for b in blocks if b.skip is not None]
    assert all(b.lang in RUN_LANGUAGES for b in skipped), [b.label() for b in skipped if b.lang not in RUN_LANGUAGES]
    assert len(skipped) <= MAX_SKIPPED, [b.label() for b in skipped]
    assert len(_runnable(blocks)) >= 8
    servers = [b for b in blocks if re.search(r"^\s*trackflow (ui|serve)\b", b.code, re.MULTILINE)]
    assert servers and all(b.skip for b in servers if b.lang in RUN_LANGUAGES)  # they never return


def test_reading_blocks_and_skip_comments() -> None:
    text = ("intro\n\n<!-- readme-test: skip (needs a server) -->\n\n```bash\ntrackflow ui\n```\n"
            "```python\nprint(1)\n```\n```text\nnot run\n```\n")
    found = readme_blocks(text)
    assert [(b.lang, b.line, b.skip) for b in found] == [("bash", 5, "needs a server"), ("python", 8, None),
                                                        ("text", 11, None)]
    assert _runnable(found) == [found[1]]
    assert _shell(Block("console", "$ trackflow --help\nUsage: ...\n", 1, None)) == "trackflow --help\n"


def _environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKFLOW_", "PREFECT_"))}
    bin_dir = str(Path(sys.executable).parent)
    env.update(
        TRACKFLOW_HOME=str(tmp_path / "trackflow-home"),
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",  # two busy cores: a slow first start
        PATH=os.pathsep.join([bin_dir, env.get("PATH", "")]),
        PYTHONUNBUFFERED="1",
    )
    return env


def test_every_readme_block_runs_top_to_bottom(tmp_path: Path) -> None:
    blocks = _runnable(readme_blocks(README.read_text(encoding="utf-8")))
    work = tmp_path / "repo"
    shutil.copytree(ROOT / "examples", work / "examples", ignore=shutil.ignore_patterns("data", "__pycache__"))
    env = _environment(tmp_path)
    for number, block in enumerate(blocks, start=1):
        if block.lang == "python":
            script = work / f"readme_block_{number}.py"
            script.write_text(block.code, encoding="utf-8")
            command = [sys.executable, script.name]
        else:
            command = ["bash", "-c", "set -euo pipefail\n" + _shell(block)]
        try:
            result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"{block.label()} did not finish within 300 s:\n{exc.stdout!r}\n{exc.stderr!r}")
        if result.returncode != 0:
            pytest.fail(f"{block.label()} failed with exit status {result.returncode}:\n--- stdout\n"
                        f"{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-5000:]}")
        assert "Traceback" not in result.stderr, f"{block.label()}:\n{result.stderr[-5000:]}"


# ---- what the README promises about specs and reruns ---------------------------------

SCRIPT_FLOW = """
from trackflow import flow, task

@task
def double(x: int) -> int:
    return 2 * x

@flow(experiment="scripted")
def doubling_pipeline(x: int = 3) -> int:
    return double(x)

if __name__ == "__main__":
    print(doubling_pipeline(4))
"""

SPEC_WITH_A_WRONG_TYPE = """name: churn-retrain
flow: trackflow.flows:training_pipeline
parameters:
  data: sklearn:breast_cancer
  test_size: quarter
"""


@pytest.mark.usefixtures("prefect_harness")
def test_rerun_finds_the_flow_of_a_script_run_without_flow(
    tracking_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from prefect.settings import PREFECT_API_URL

    from trackflow.tracking.client import Client

    script = tmp_path / "doubling.py"
    script.write_text(SCRIPT_FLOW, encoding="utf-8")
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}  # the session's Prefect API
    done = subprocess.run([sys.executable, script.name], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    [first] = [r for r in Client().search_runs("scripted") if r.kind == "flow"]
    code, out, err = invoke(["rerun", first.id], capsys)  # no --flow
    assert code == 0, out + err
    assert f"with {script}:doubling_pipeline" in out
    reruns = [r for r in Client().search_runs("scripted") if r.tags.get("trackflow.rerun_of") == first.id]
    assert len(reruns) == 1 and reruns[0].status.value == "FINISHED" and reruns[0].params["x"] == "4"


@pytest.mark.usefixtures("prefect_harness")
def test_a_spec_value_of_the_wrong_type_names_its_key_and_line(
    tracking_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trackflow.tracking.client import Client

    spec = tmp_path / "trackflow.yaml"
    spec.write_text(SPEC_WITH_A_WRONG_TYPE, encoding="utf-8")
    code, out, err = invoke(["run", str(spec)], capsys)
    assert code == 1 and f"{spec} line 5: Parameter 'test_size'" in err and "'quarter'" in err, out + err
    assert "pydantic" not in out + err and "Parameter validation failed" not in out + err
    assert Client().search_runs() == []
