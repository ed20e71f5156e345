"""`make hub`: start the local JupyterHub and say where it is and how to log in.

    python -m hub_config.run

Reads the same environment as jupyterhub_config.py (HUBML_HUB_PORT,
HUBML_HUB_PASSWORD, HUBML_HUB_DATA, ...), then replaces itself with
`jupyterhub`, so Ctrl-C stops the hub, the proxy and the users' servers.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from hub_config import local_home

HERE = Path(__file__).resolve().parent
PROXY = HERE / "node_modules" / ".bin" / "configurable-http-proxy"


def main() -> None:
    if not PROXY.exists():
        sys.exit(f"configurable-http-proxy is missing at {PROXY}: run `make hub-deps` first")
    os.environ["HUBML_HUB_MODE"] = "local"
    data = local_home.hub_data_dir()
    password = local_home.shared_password(data)
    host = os.environ.get("HUBML_HUB_IP", "127.0.0.1")
    port = os.environ.get("HUBML_HUB_PORT", "8000")
    print(f"hubml hub: http://{host}:{port}/", flush=True)
    print(f"  log in with any user name (lowercase letters, digits, . _ -) and the password: {password}")
    print(f"  (set HUBML_HUB_PASSWORD to choose it; saved in {data / 'password'})")
    print("  each user gets a home in", data / "users", "with quickstart.ipynb; Ctrl-C stops the hub.", flush=True)
    jupyterhub = Path(sys.executable).parent / "jupyterhub"
    os.chdir(data)
    os.execv(str(jupyterhub), [str(jupyterhub), "-f", str(HERE / "jupyterhub_config.py")])


if __name__ == "__main__":
    main()
