"""`hubml serve` wiring: model manager, batcher, gRPC and REST servers, shutdown.

The recipe: start the REST workers, if any -> load every configured model
(warmed up) -> on one event loop: wait for the workers, start gRPC, bind
REST -> announce readiness (a line on stdout, optionally a JSON file) ->
poll for versions until SIGTERM/SIGINT -> stop both servers.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from hubml.exceptions import ServingError
from hubml.serving.batching import Batcher
from hubml.serving.config import BatchingOptions, ModelServerConfig, read_model_config
from hubml.serving.grpc_service import start_grpc_server
from hubml.serving.http import HttpServer
from hubml.serving.inference import Inference
from hubml.serving.metrics import ServingMetrics
from hubml.serving.models import ModelManager
from hubml.serving.rest import RestApi
from hubml.serving.workers import RestWorkers

log = logging.getLogger("hubml.serving")
READY_PREFIX = "hubml serve: ready"


@dataclass
class ServeOptions:
    """Everything `hubml serve` was told, already validated."""

    model_config: ModelServerConfig
    host: str = "127.0.0.1"
    grpc_port: int | None = 8500  # None: no gRPC (a REST worker)
    rest_port: int = 8501
    poll_seconds: float = 1.0
    batching: BatchingOptions | None = None
    rest_threads: int = 4
    grpc_threads: int = 16
    max_body_bytes: int = 64 << 20
    read_timeout_seconds: float = 30.0  # for a REST request's headers and body to arrive
    ready_file: str | None = None
    rest_workers: int = 1
    runtime_dir: str | None = None  # where REST workers meet (see hubml.serving.workers)
    reuse_port: bool = False  # share the REST port with the other workers
    reload_file: str | None = None  # a worker re-reads its ModelServerConfig here on SIGHUP


def serve(options: ServeOptions) -> int:
    """Run the server until a signal stops it; returns the exit code."""
    with contextlib.ExitStack() as cleanup:  # what was started stops, in reverse order, however serving ends
        workers = None
        if options.rest_workers > 1:
            workers = RestWorkers(options, options.runtime_dir)
            workers.start()  # they load their models while this process loads its own
            cleanup.callback(workers.stop)
        warm_up = (1, 2) + ((options.batching.max_batch_size,) if options.batching else ())
        manager = ModelManager(options.model_config, warm_up_sizes=tuple(sorted(set(warm_up))))
        cleanup.callback(manager.stop)
        metrics = ServingMetrics()
        batcher = Batcher(options.batching, metrics.record_batch) if options.batching else None
        if batcher:
            cleanup.callback(batcher.stop)
        pools = {}
        for front_end, threads in (("rest", options.rest_threads), ("grpc", options.grpc_threads)):
            pools[front_end] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"hubml-{front_end}")
            cleanup.callback(pools[front_end].shutdown, wait=False, cancel_futures=True)
        manager.start_polling(options.poll_seconds)
        _use_uvloop()
        asyncio.run(_serve(options, manager, metrics, workers, rest_inference=Inference(batcher, pools["rest"]),
                           grpc_inference=Inference(batcher, pools["grpc"])))
    return 0


def _grpc_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # the stock loop works, a little slower
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


async def _serve(options: ServeOptions, manager: ModelManager, metrics: ServingMetrics, workers: RestWorkers | None,
                 rest_inference: Inference, grpc_inference: Inference) -> None:
    """gRPC and REST on this event loop, until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if options.reload_file:
        def reload() -> None:
            manager.reload_config(read_model_config(options.reload_file))

        loop.add_signal_handler(signal.SIGHUP, lambda: loop.run_in_executor(None, reload))
        loop.run_in_executor(None, reload)  # a reload sent while this worker was loading
    if workers:  # REST answers once every process can
        await loop.run_in_executor(None, workers.wait_ready)
    grpc_server, grpc_port = None, None
    if options.grpc_port is not None:
        grpc_server, grpc_port = await start_grpc_server(
            f"{_grpc_host(options.host)}:{options.grpc_port}", manager, grpc_inference, metrics, options.max_body_bytes,
            on_reload=workers.reload if workers else None)
    http_server, rest_port = None, None
    if options.rest_port:
        http_server = HttpServer(RestApi(manager, rest_inference, metrics), options.max_body_bytes,
                                 read_timeout=options.read_timeout_seconds)
        try:
            rest_port = await http_server.listen(options.host, options.rest_port,
                                                 reuse_port=options.reuse_port or options.rest_workers > 1)
        except OSError as error:
            raise ServingError("UNAVAILABLE", f"cannot listen on {options.host}:{options.rest_port} for REST: "
                                              f"{error.strerror}") from error
    _announce(options, grpc_port, rest_port)
    await stop.wait()
    log.info("stopping")
    if http_server:
        await http_server.close()
    if grpc_server:
        await grpc_server.stop(grace=1)


def _announce(options: ServeOptions, grpc_port: int, rest_port: int | None) -> None:
    """Tell whoever started us that both servers accept requests and the models are loaded."""
    host = _grpc_host(options.host)
    ready = {"pid": os.getpid(), "host": options.host, "grpc_port": grpc_port, "rest_port": rest_port,
             "grpc_target": f"{host}:{grpc_port}" if grpc_port else None,
             "rest_url": f"http://{host}:{rest_port}" if rest_port else None}
    if options.ready_file:
        partial = options.ready_file + ".partial"
        with open(partial, "w", encoding="utf-8") as handle:
            json.dump(ready, handle)
        os.replace(partial, options.ready_file)
    if options.grpc_port is None:  # a REST worker: its ready file is for the first process, not for users
        return
    print(f"{READY_PREFIX} grpc={ready['grpc_target']} rest={ready['rest_url'] or 'off'}", flush=True)
