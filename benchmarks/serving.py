"""Serving benchmark: hubml serve (REST, gRPC, REST with batching) against KServe's Python ModelServer.

One command, one run, one model: a Keras MLP 784-128-10 with random weights,
exported with `model.export()` (no download). Every REST row uses the same
compiled load generator, `wrk`, with a Lua script that POSTs one 784-float row
as `{"instances": [[...]]}`; the gRPC row uses benchmarks/grpc_load.py (see its
docstring for why). The "limit" rows call the SavedModel in this process.
"hubml REST" runs `hubml serve` with its defaults (one process); the batched
row adds `--enable_batching` and `--rest_api_workers` (default: one per CPU).
KServe runs with its defaults (one worker).

    make bench                                      # builds .bench-venv/ (KServe), installs wrk, runs this
    .venv/bin/python benchmarks/serving.py [--quick]

Last line: rest_vs_kserve=A batched_vs_kserve=B batched_vs_limit=C grpc_p50_overhead_ms=D
  A: hubml REST req/s / KServe req/s, concurrency 8
  B: hubml batched REST req/s / KServe req/s, concurrency 32
  C: hubml batched REST req/s at concurrency 32 / in-process rows/s of 32-row serving_default calls
  D: hubml gRPC p50 at concurrency 1 - in-process p50 of a one-row serving_default call (ms)
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hubml.processes import free_ports

REPO = Path(__file__).resolve().parent.parent
BENCH_PYTHON = REPO / ".bench-venv" / "bin" / "python"
CONCURRENCY = (1, 8, 32)
MODEL_NAME = "mlp"
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = io.open("%(body)s", "rb"); wrk.body = file:read("*a"); file:close()
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout))
end
"""
BATCHING = "max_batch_size { value: 32 }\nbatch_timeout_micros { value: %d }\nnum_batch_threads { value: %d }\n"


def build_model(folder: Path) -> Path:
    """The MLP as TF Serving expects it: <base>/1/saved_model.pb."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.predict(np.zeros((1, 784), np.float32), verbose=0)
    with contextlib.redirect_stdout(open(os.devnull, "w")):
        model.export(str(folder / MODEL_NAME / "1"), verbose=False)
    return folder / MODEL_NAME


def percentile_ms(samples: list[float], q: float) -> float:
    samples = sorted(samples)
    return samples[min(len(samples) - 1, int(q * len(samples)))] * 1e3


def time_calls(function, argument, seconds: float) -> list[float]:
    """Call latencies over `seconds`; the list's `cpu_s` is the process CPU they used."""
    latencies, deadline, cpu = _Latencies(), time.perf_counter() + seconds, time.process_time()
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        function(argument)
        latencies.append(time.perf_counter() - started)
    latencies.cpu_s = time.process_time() - cpu
    return latencies


class _Latencies(list):
    cpu_s = 0.0


def in_process(base: Path, seconds: float) -> dict:
    """The limit: serving_default called in this process, plus the session path hubml serve runs."""
    import numpy as np
    import tensorflow as tf

    serving_default = tf.saved_model.load(str(base / "1")).signatures["serving_default"]
    input_name = next(iter(serving_default.structured_input_signature[1]))
    call = lambda rows: serving_default(**{input_name: rows})  # noqa: E731
    one, batch = (np.random.rand(n, 784).astype(np.float32) for n in (1, 32))
    firsts = {}
    for label, rows in (("first 1-row call", one), ("second 1-row call", one), ("first 2-row call", one.repeat(2, 0)),
                        ("first 32-row call", batch)):
        started = time.perf_counter()
        call(rows)
        firsts[label] = (time.perf_counter() - started) * 1e3
    one_row = time_calls(call, one, seconds)
    batched = time_calls(call, batch, seconds)

    from hubml.serving.servable import Servable

    servable = Servable(MODEL_NAME, 1, str(base / "1"))
    servable.warm_up((1, 2, 32))
    session_call = lambda rows: servable.run(None, {input_name: rows})  # noqa: E731
    session_one = time_calls(session_call, one, seconds)
    session_batched = time_calls(session_call, batch, seconds)
    cpu_ms = lambda calls, rows: calls.cpu_s * 1e3 / (len(calls) * rows)  # noqa: E731
    return {
        "firsts_ms": firsts,
        "cpu_ms": [cpu_ms(one_row, 1), cpu_ms(batched, 32), cpu_ms(session_one, 1), cpu_ms(session_batched, 32)],
        "one_row_p50_ms": percentile_ms(one_row, 0.5), "one_row_p99_ms": percentile_ms(one_row, 0.99),
        "one_row_per_s": len(one_row) / sum(one_row),
        "rows_per_s_32": 32 * len(batched) / sum(batched), "batch_p50_ms": percentile_ms(batched, 0.5),
        "batch_p99_ms": percentile_ms(batched, 0.99),
        "session_one_row_p50_ms": percentile_ms(session_one, 0.5),
        "session_one_row_p99_ms": percentile_ms(session_one, 0.99),
        "session_one_row_per_s": len(session_one) / sum(session_one),
        "session_rows_per_s_32": 32 * len(session_batched) / sum(session_batched),
        "session_batch_p50_ms": percentile_ms(session_batched, 0.5),
        "session_batch_p99_ms": percentile_ms(session_batched, 0.99),
        "input_name": input_name,
    }


class Server:
    """A server process started in the background; `ready()` waits until its REST port answers."""

    def __init__(self, command: list[str], rest_port: int, log: Path, ready_path: str):
        self.rest_port, self.log, self.ready_path = rest_port, log, ready_path
        self.process = subprocess.Popen(command, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                                        start_new_session=True, cwd=REPO)

    def ready(self, timeout: float = 240) -> Server:
        import urllib.error
        import urllib.request

        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early; see {self.log}:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.rest_port}{self.ready_path}", timeout=2):
                    return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        raise TimeoutError(f"server not ready after {timeout} s; see {self.log}")

    def cpu_seconds(self) -> float:
        """User + system CPU the server has used so far: all threads of its process and of its
        live child processes (REST workers)."""
        ticks = 0
        for entry in Path("/proc").iterdir():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, ValueError):
                continue
            if entry.name == str(self.process.pid) or fields[1] == str(self.process.pid):
                ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start_hubml(base: Path, folder: Path, label: str, batching: str | None, workers: int = 1) -> tuple[Server, int]:
    grpc_port, rest_port = free_ports(2)
    command = [sys.executable, "-c", "import sys; from hubml.cli import main; sys.exit(main())", "serve",
               f"--model_name={MODEL_NAME}", f"--model_base_path={base}", f"--port={grpc_port}",
               f"--rest_api_port={rest_port}", "--file_system_poll_wait_seconds=0"]
    if batching:
        parameters = folder / f"{label}.batching"
        parameters.write_text(batching)
        command += ["--enable_batching", f"--batching_parameters_file={parameters}"]
    if workers > 1:
        command.append(f"--rest_api_workers={workers}")
    return Server(command, rest_port, folder / f"{label}.log", f"/v1/models/{MODEL_NAME}"), grpc_port


def start_kserve(base: Path, folder: Path) -> Server:
    rest_port, grpc_port = free_ports(2)
    command = [str(BENCH_PYTHON), str(REPO / "benchmarks" / "kserve_mlp.py"), str(base / "1"),
               f"--http_port={rest_port}", f"--grpc_port={grpc_port}"]
    return Server(command, rest_port, folder / "kserve.log", f"/v1/models/{MODEL_NAME}")


def wrk(url: str, script: Path, concurrency: int, seconds: float) -> dict:
    threads = min(concurrency, 2)
    command = ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
               "-s", str(script), url]
    output = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60).stdout
    line = next((l for l in output.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{output}")
    requests, duration_us, p50_us, p99_us, errors = (int(v) for v in line.split()[1:])
    return {"rps": requests / (duration_us / 1e6), "requests": requests, "p50_ms": p50_us / 1e3, "p99_ms": p99_us / 1e3,
            "errors": errors}


def grpc_load(target: str, request_file: Path, concurrency: int, seconds: float) -> dict:
    command = [sys.executable, str(REPO / "benchmarks" / "grpc_load.py"), target, str(request_file),
               str(concurrency), str(seconds)]
    result = json.loads(subprocess.run(command, capture_output=True, text=True, check=True,
                                       timeout=seconds + 120).stdout.splitlines()[-1])
    return {"rps": result["requests"] / result["seconds"], "requests": result["requests"], "p50_ms": result["p50_ms"],
            "p99_ms": result["p99_ms"], "errors": result["errors"]}


def with_cpu(server: Server, run) -> dict:
    """Run one load point and add the server's CPU milliseconds per request, which a busy machine skews
    far less than req/s."""
    before = server.cpu_seconds()
    result = run()
    result["cpu_ms"] = (server.cpu_seconds() - before) * 1e3 / max(1, result["requests"])
    return result


def write_requests(folder: Path, input_name: str) -> tuple[Path, Path]:
    """The one-row request as a JSON body (REST, KServe v1) and a serialized PredictRequest (gRPC)."""
    import numpy as np
    from tensorflow_serving.apis import predict_pb2

    from hubml.serving.tensors import from_ndarray

    row = np.random.default_rng(0).random((1, 784), dtype=np.float32)
    body = folder / "row.json"
    body.write_text(json.dumps({"instances": row.round(6).tolist()}))
    request = predict_pb2.PredictRequest()
    request.model_spec.name = MODEL_NAME
    request.inputs[input_name].CopyFrom(from_ndarray(row))
    grpc_body = folder / "row.predict"
    grpc_body.write_bytes(request.SerializeToString())
    return body, grpc_body


def measure(args, folder: Path) -> tuple[dict, dict]:
    base = build_model(folder)
    servers = {"hubml REST": start_hubml(base, folder, "hubml", None),
               batched_label(args): start_hubml(base, folder, "hubml-batched",
                                                BATCHING % (args.batch_timeout_micros, args.batch_threads), args.workers),
               "KServe REST": (start_kserve(base, folder), None)}
    try:  # the servers start together, then idle while the limit is measured
        for server, _ in servers.values():
            server.ready()
        limit = in_process(base, args.seconds)
        body, grpc_body = write_requests(folder, limit["input_name"])
        script = folder / "post.lua"
        script.write_text(LUA % {"body": body})
        results = {}
        for label, (server, grpc_port) in servers.items():
            path = f"/v1/models/{MODEL_NAME}:predict"
            wrk(f"http://127.0.0.1:{server.rest_port}{path}", script, 32, 1)  # warm-up, not reported
            for c in CONCURRENCY:
                url = f"http://127.0.0.1:{server.rest_port}{path}"
                results[(label, c)] = with_cpu(server, lambda: wrk(url, script, c, args.seconds))
            if label == "hubml REST":
                grpc_load(f"127.0.0.1:{grpc_port}", grpc_body, 32, 1)  # warm-up, not reported
                for c in CONCURRENCY:
                    results[("hubml gRPC", c)] = with_cpu(
                        server, lambda: grpc_load(f"127.0.0.1:{grpc_port}", grpc_body, c, args.seconds))
    finally:
        for server, _ in servers.values():
            server.stop()
    return limit, results


def batched_label(args) -> str:
    return f"hubml REST batched, {args.workers} worker{'s' if args.workers > 1 else ''}"


def report(args, limit: dict, results: dict) -> None:
    print("\nfirst calls (ms), before any warm-up: " + ", ".join(f"{k} {v:.1f}" for k, v in limit["firsts_ms"].items()))
    print(f"\n{'row':<44}{'conc':>5}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'cpu ms/req':>11}{'errors':>8}")
    lines = [
        ("in-process serving_default, 1-row calls", 1, limit["one_row_per_s"], limit["one_row_p50_ms"],
         limit["one_row_p99_ms"], limit["cpu_ms"][0], 0),
        ("in-process serving_default, 32-row (rows/s)", 1, limit["rows_per_s_32"], limit["batch_p50_ms"],
         limit["batch_p99_ms"], limit["cpu_ms"][1], 0),
        ("in-process session (hubml), 1-row calls", 1, limit["session_one_row_per_s"],
         limit["session_one_row_p50_ms"], limit["session_one_row_p99_ms"], limit["cpu_ms"][2], 0),
        ("in-process session (hubml), 32-row (rows/s)", 1, limit["session_rows_per_s_32"],
         limit["session_batch_p50_ms"], limit["session_batch_p99_ms"], limit["cpu_ms"][3], 0),
    ]
    batched = batched_label(args)
    for label in ("hubml REST", "hubml gRPC", batched, "KServe REST"):
        for concurrency in CONCURRENCY:
            row = results[(label, concurrency)]
            lines.append((label, concurrency, row["rps"], row["p50_ms"], row["p99_ms"], row["cpu_ms"], row["errors"]))
    for label, concurrency, rps, p50, p99, cpu, errors in lines:
        print(f"{label:<44}{concurrency:>5}{rps:>10.0f}{p50:>9.2f}{p99:>9.2f}{cpu:>11.3f}{errors:>8}")
    kserve = {c: results[("KServe REST", c)]["rps"] for c in CONCURRENCY}
    print(f"\nrest_vs_kserve={results[('hubml REST', 8)]['rps'] / kserve[8]:.2f} "
          f"batched_vs_kserve={results[(batched, 32)]['rps'] / kserve[32]:.2f} "
          f"batched_vs_limit={results[(batched, 32)]['rps'] / limit['rows_per_s_32']:.3f} "
          f"grpc_p50_overhead_ms={results[('hubml gRPC', 1)]['p50_ms'] - limit['one_row_p50_ms']:.3f}")


def check_tools() -> None:
    missing = [what for what, ok in (("wrk (apt-get install wrk)", shutil.which("wrk")),
                                     (f"KServe's virtualenv {BENCH_PYTHON}", BENCH_PYTHON.exists())) if not ok]
    if missing:
        sys.exit("benchmarks/serving.py needs " + " and ".join(missing) + "; `make bench` sets both up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short load points (the whole run within 3 minutes)")
    parser.add_argument("--seconds", type=float, help="seconds per load point (default 10, --quick 2)")
    parser.add_argument("--batch_timeout_micros", type=int, default=1000)
    parser.add_argument("--batch_threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="--rest_api_workers of the batched row (default: one per CPU)")
    args = parser.parse_args()
    args.seconds = args.seconds or (2.0 if args.quick else 10.0)
    check_tools()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="hubml-bench-") as folder:
        limit, results = measure(args, Path(folder))
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"{args.seconds:g} s per load point; total {time.time() - started:.0f} s")
    report(args, limit, results)


if __name__ == "__main__":
    main()
