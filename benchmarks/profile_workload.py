"""Profile the timed part of one trackflow workload with pyinstrument.

    pip install pyinstrument
    python benchmarks/profile_workload.py NAME [--quick] [--params JSON] [--out FILE]

Runs ``runner_trackflow.py --workload NAME`` with ``BENCH_PROFILE`` set: the runner wraps
its timed section in :func:`measure.profiled`, so the profile shows only what is measured
(not imports or setup). Prints the result line and the profile (main thread only; for the
many-process workload each worker appends its own profile).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from workloads import by_name

HERE = Path(__file__).resolve().parent


def main() -> int:
    """Run one workload under the profiler and print the profile."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help="workload name (see run.py --list)")
    parser.add_argument("--quick", action="store_true", help="the --quick sizes")
    parser.add_argument("--params", help="JSON overriding the sizes")
    parser.add_argument("--out", type=Path, help="write the profile here too")
    args = parser.parse_args()
    workload = by_name([args.name])[0]
    params = workload.params(args.quick) or {}
    if args.params:
        params.update(json.loads(args.params))
    if workload.in_process:
        params.setdefault("repeats", 1)
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        target = Path(tmp) / "profile.txt"
        env = {**os.environ, "BENCH_PROFILE": str(target)}
        command = [sys.executable, str(HERE / "runner_trackflow.py"), "--workload", workload.name,
                   "--params", json.dumps(params)]
        completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        result = [line for line in completed.stdout.splitlines() if line.startswith("BENCH_RESULT ")]
        print(result[-1] if result else completed.stderr[-2000:])
        text = target.read_text() if target.exists() else "(no profile written)"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
