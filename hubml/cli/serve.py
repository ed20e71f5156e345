"""`hubml serve`: a TensorFlow-Serving-compatible model server.

The flags are `tensorflow_model_server`'s, so scripts port over; `--host`,
`--ready_file`, `--rest_api_workers`, `--rest_api_max_body_bytes` and `--rest_api_read_timeout_seconds` are hubml's
additions. Only
argparse is imported until the command runs: the `hubml` parser imports
every subcommand module, and `hubml serve` never loads the hubml client.
"""
from __future__ import annotations

import argparse
import os


def _flag_bool(text: str) -> bool:
    """TF Serving's booleans: `--enable_batching`, `--enable_batching=true|false`."""
    lowered = text.lower()
    if lowered not in ("true", "false", "1", "0"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return lowered in ("true", "1")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve", help="serve SavedModels over TF Serving's gRPC and REST APIs",
        description="Serve SavedModels in TF Serving's <base>/<version>/saved_model.pb layout over TF Serving's "
                    "gRPC and REST APIs. Prints 'hubml serve: ready ...' once the models answer.")
    add = parser.add_argument
    add("--model_name", default="default", help="name of the model served from --model_base_path (default: default)")
    add("--model_base_path", help="folder of numeric version folders: a path, file://... or s3://...")
    add("--model_config_file", help="ModelServerConfig in text format: several models, version policies, labels")
    add("--port", type=int, default=8500, help="gRPC port (default 8500; 0 picks a free one)")
    add("--rest_api_port", type=int, default=8501, help="REST port (default 8501; 0 turns REST off, as in TF Serving)")
    add("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; 0.0.0.0 in a container)")
    add("--file_system_poll_wait_seconds", type=float, default=1.0,
        help="seconds between looks for new versions (default 1; 0 or less: never)")
    add("--enable_batching", type=_flag_bool, nargs="?", const=True, default=False,
        help="merge concurrent requests into batched model calls")
    add("--batching_parameters_file", help="BatchingParameters in text format (implies nothing without --enable_batching)")
    add("--rest_api_num_threads", type=int, default=os.cpu_count() or 1,
        help="threads running un-batched model calls for REST")
    add("--rest_api_workers", type=int, default=1,
        help="processes answering REST on the port, each with its own copy of the models (default 1)")
    add("--grpc_max_threads", type=int, default=16,
        help="threads for gRPC calls that leave the event loop: classify, regress, slow predicts (default 16)")
    add("--rest_api_max_body_bytes", type=int, default=64 << 20,
        help="largest request body (REST) or message (gRPC) accepted, in bytes (default 64 MiB)")
    add("--rest_api_read_timeout_seconds", type=float, default=30.0,
        help="seconds a REST request's headers and body may take to arrive before it is answered 408 (default 30)")
    add("--ready_file", help="write {pid, grpc_port, rest_port, ...} as JSON here once ready")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hubml.extras import require
    from hubml.serving import prepare_server_process

    require("serve", "hubml serve")
    prepare_server_process()
    from hubml.exceptions import InvalidArgument
    from hubml.serving import config

    if bool(args.model_config_file) == bool(args.model_base_path):
        raise InvalidArgument("--model_base_path", "give either --model_base_path or --model_config_file")
    for flag, value in (("--rest_api_num_threads", args.rest_api_num_threads), ("--grpc_max_threads", args.grpc_max_threads),
                        ("--rest_api_max_body_bytes", args.rest_api_max_body_bytes),
                        ("--rest_api_workers", args.rest_api_workers),
                        ("--rest_api_read_timeout_seconds", args.rest_api_read_timeout_seconds)):
        if value < 1:
            raise InvalidArgument(flag, "must be at least 1")
    model_config = (config.read_model_config(args.model_config_file) if args.model_config_file
                    else config.single_model_config(args.model_name, args.model_base_path))
    batching = config.read_batching_options(args.batching_parameters_file) if args.enable_batching else None

    if args.rest_api_workers > 1 and not args.rest_api_port:
        raise InvalidArgument("--rest_api_workers", "REST workers need REST: set --rest_api_port")
    from hubml.serving.workers import prepare_runtime_dir

    runtime_dir = prepare_runtime_dir(args.rest_api_workers)  # before the metrics module is imported
    from hubml.serving.server import ServeOptions, serve

    return serve(ServeOptions(
        model_config=model_config, host=args.host, grpc_port=args.port, rest_port=args.rest_api_port,
        poll_seconds=args.file_system_poll_wait_seconds, batching=batching, rest_threads=args.rest_api_num_threads,
        grpc_threads=args.grpc_max_threads, max_body_bytes=args.rest_api_max_body_bytes, ready_file=args.ready_file,
        rest_workers=args.rest_api_workers, runtime_dir=runtime_dir,
        read_timeout_seconds=args.rest_api_read_timeout_seconds,
    ))
