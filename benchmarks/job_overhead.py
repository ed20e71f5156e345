"""What `%%train` costs over running the same code with `python` directly.

    .venv/bin/python benchmarks/job_overhead.py [--runs N]

Both rows run the same trivial cell; the `%%train` row goes through a real
IPython shell, the local backend (bundle, SQLite, detached supervisor, the job
runtime) and waits for the job's final state, as a user's cell does. Prints a
table of medians and a last line `overhead_ratio=X.XX overhead_s=Y.YY`.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time

CELL = "total = sum(range(1000))\nprint('total', total)\n"


def time_python(runs: int) -> list[float]:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", CELL], check=True, capture_output=True)
        timings.append(time.perf_counter() - start)
    return timings


def time_train(runs: int) -> list[float]:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "hubml")
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            result = shell.run_cell(f"%%train --name overhead\n{CELL}")
        timings.append(time.perf_counter() - start)
        result.raise_error()
        assert result.result.state == "SUCCEEDED", result.result
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hubml-bench-") as home:
        os.environ["HUBML_HOME"] = home
        os.environ.pop("HUBML_STORAGE", None)
        time_python(2)  # warm the page cache for both rows alike
        python, train = time_python(args.runs), time_train(args.runs)
    rows = [("python -c (direct)", python), ("%%train (local backend)", train)]
    print(f"{'how the cell ran':<26}{'median s':>10}{'min s':>10}{'max s':>10}   runs={args.runs}")
    for label, timings in rows:
        print(f"{label:<26}{statistics.median(timings):>10.3f}{min(timings):>10.3f}{max(timings):>10.3f}")
    direct, through = statistics.median(python), statistics.median(train)
    print(f"overhead_ratio={through / direct:.2f} overhead_s={through - direct:.2f}")


if __name__ == "__main__":
    main()
