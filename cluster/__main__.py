"""`python -m cluster up|down|status|hub-up|hub-down`: the single-node test cluster (cluster/lifecycle.py;
`make cluster`) and hubml's chart installed on it (cluster/hub.py; `make cluster-hub`)."""
from __future__ import annotations

import argparse
import sys

from cluster import hub, lifecycle, processes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cluster", description="A real single-node Kubernetes for hubml.")
    parser.add_argument("action", choices=("up", "down", "status", "hub-up", "hub-down"))
    action = parser.parse_args(argv).action
    try:
        if action == "up":
            cluster = lifecycle.up()
            print(f"cluster: `source {cluster.env_file}` points hubml and kubectl at it")
            print(f"KUBECONFIG={cluster.kubeconfig}")
        elif action == "hub-up":
            environment = hub.install()
            print(f"cluster: the hub is at {environment['HUB_URL']}; `source .cluster/env` sets HUB_URL and "
                  "HUB_API_TOKEN")
        elif action == "hub-down":
            removed = hub.uninstall()
            print(f"cluster: the hub is uninstalled{', and ' + ', '.join(removed) + ' removed' if removed else ''}")
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
