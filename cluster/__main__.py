"""`python -m cluster up|down|status`: the single-node test cluster (see cluster/lifecycle.py); `make cluster`."""
from __future__ import annotations

import argparse
import sys

from cluster import lifecycle, processes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cluster", description="A real single-node Kubernetes for hubml.")
    parser.add_argument("action", choices=("up", "down", "status"))
    action = parser.parse_args(argv).action
    try:
        if action == "up":
            cluster = lifecycle.up()
            print(f"cluster: `source {cluster.env_file}` points hubml and kubectl at it")
            print(f"KUBECONFIG={cluster.kubeconfig}")
        elif action == "down":
            lifecycle.down()
            print("cluster: stopped, and its state removed")
        else:
            for name in lifecycle.COMPONENTS:
                pid = processes.running(name)
                print(f"{name:25} {'running, pid ' + str(pid) if pid else 'not running'}")
    except (lifecycle.ClusterError, processes.ComponentFailed) as error:
        print(f"cluster: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
