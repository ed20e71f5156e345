"""A gRPC load generator for benchmarks/serving.py, run as its own process.

`wrk` speaks HTTP/1.1 only and `ghz` is not installable from PyPI or Debian, so
the gRPC rows use this instead: one asyncio loop keeps CONCURRENCY unary
`PredictionService/Predict` calls in flight for DURATION seconds. The request
is serialized once and sent as raw bytes (no per-call protobuf work), and
responses are not parsed, so the client's own cost per call stays at
gRPC's C core plus a few Python lines. Prints one JSON line:
{"requests", "errors", "seconds", "p50_ms", "p99_ms"}.

    python benchmarks/grpc_load.py TARGET REQUEST_FILE CONCURRENCY DURATION
"""
from __future__ import annotations

import asyncio
import json
import sys
import time

import grpc

PREDICT = "/tensorflow.serving.PredictionService/Predict"


async def _worker(call, body: bytes, deadline: float, latencies: list[float], errors: list[int]) -> None:
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            await call(body, timeout=30)
        except grpc.aio.AioRpcError:
            errors[0] += 1
            continue
        latencies.append(time.perf_counter() - started)


async def run(target: str, body: bytes, concurrency: int, duration: float) -> dict:
    async with grpc.aio.insecure_channel(target) as channel:
        call = channel.unary_unary(PREDICT)  # no serializers: bytes in, bytes out
        await call(body, timeout=30)  # connect before the clock starts
        latencies: list[float] = []
        errors = [0]
        started = time.perf_counter()
        deadline = started + duration
        await asyncio.gather(*(_worker(call, body, deadline, latencies, errors) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e3 if latencies else float("nan")  # noqa: E731
    return {"requests": len(latencies), "errors": errors[0], "seconds": seconds, "p50_ms": pick(0.5), "p99_ms": pick(0.99)}


if __name__ == "__main__":
    target, request_file, concurrency, duration = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    with open(request_file, "rb") as handle:
        print(json.dumps(asyncio.run(run(target, handle.read(), concurrency, duration))))
