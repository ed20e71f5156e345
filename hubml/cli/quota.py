"""`hubml quota`: what is used against what is allowed, per resource.

On Kubernetes, the namespace's ResourceQuota; on the local backend, the
machine's capacity (or `c.HubML.capacity_*`) against what running jobs hold,
and how many queued jobs wait for each resource. Below the table, how many of
the user's jobs are queued (PENDING) on either backend.
"""
from __future__ import annotations

import argparse
import json

from hubml.client import Client
from hubml.formatting import memory_size, table

BYTE_RESOURCES = ("memory", "storage")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("quota", help="show resources used against their limits")
    parser.add_argument("--backend", help="'local' or 'kubernetes' (default: configured)")
    parser.add_argument("--output", choices=["table", "json"], default="table")
    parser.set_defaults(func=show_quota)


def show_quota(args: argparse.Namespace) -> int:
    client = Client(args.backend)
    rows = client.quota()
    if args.output == "json":
        print(json.dumps(rows, indent=1))
        return 0
    if not rows:
        print("no limits are set")
    else:
        print(table(["RESOURCE", "USED", "LIMIT", "USED %", "WAITING", "SOURCE"],
                    [(row["resource"], amount(row["resource"], row["used"]), amount(row["resource"], row["limit"]),
                      f"{100 * row['used'] / row['limit']:.0f}%" if row["limit"] else "-",
                      row.get("waiting", "-"), row["source"]) for row in rows]))
    print(queue_line(client.queue()))
    return 0


def queue_line(queue: dict[str, int]) -> str:
    """'4 jobs queued: 3 waiting for earlier jobs to start, 1 waiting for cpu'."""
    total = sum(queue.values())
    if not total:
        return "no jobs queued"
    return f"{total} job{'s' if total != 1 else ''} queued: " + ", ".join(f"{n} {why}" for why, n in queue.items())


def amount(resource: str, value: float) -> str:
    """Bytes in binary units, everything else (cores, GPUs, counts) as a plain number."""
    if any(word in resource for word in BYTE_RESOURCES):
        return memory_size(value)
    return f"{value:g}"
