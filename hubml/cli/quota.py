"""`hubml quota`: what is used against what is allowed, per resource.

On Kubernetes, the namespace's ResourceQuota; on the local backend, the
configured capacity (`c.HubML.capacity_*`) against what running jobs hold.
"""
from __future__ import annotations

import argparse
import json

from hubml.client import Client
from hubml.formatting import table

BYTE_RESOURCES = ("memory", "storage")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("quota", help="show resources used against their limits")
    parser.add_argument("--backend", help="'local' or 'kubernetes' (default: configured)")
    parser.add_argument("--output", choices=["table", "json"], default="table")
    parser.set_defaults(func=show_quota)


def show_quota(args: argparse.Namespace) -> int:
    rows = Client(args.backend).quota()
    if args.output == "json":
        print(json.dumps(rows, indent=1))
        return 0
    if not rows:
        print("no limits are set")
        return 0
    print(table(["RESOURCE", "USED", "LIMIT", "USED %", "SOURCE"],
                [(row["resource"], amount(row["resource"], row["used"]), amount(row["resource"], row["limit"]),
                  f"{100 * row['used'] / row['limit']:.0f}%" if row["limit"] else "-", row["source"])
                 for row in rows]))
    return 0


def amount(resource: str, value: float) -> str:
    """Bytes in GiB/MiB, everything else (cores, GPUs, counts) as a plain number."""
    if any(word in resource for word in BYTE_RESOURCES):
        return f"{value / 2**30:.1f}Gi" if value >= 2**30 else f"{value / 2**20:.0f}Mi"
    return f"{value:g}"
