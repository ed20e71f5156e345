"""hubml's Jupyter server extension: the REST API the sidebar talks to, under `/hubml/api/`.

Enabled by `jupyter-config/jupyter_server_config.d/hubml.json` (installed with
the package), or by `--ServerApp.jpserver_extensions="{'hubml.extension': True}"`.
"""
from __future__ import annotations

import os
from typing import Any

from jupyter_server.utils import url_path_join

from hubml.extension.server.manager import HubMLManager


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from hubml.extension.server.handlers import setup_handlers
    from hubml.tensorboard import OWNER_ENV

    # TensorBoards started by this server or its kernels (which inherit the variable) end with it.
    os.environ[OWNER_ENV] = str(os.getpid())

    proxy = url_path_join(serverapp.base_url, "proxy") if serves_proxy(serverapp) else None
    setup_handlers(serverapp.web_app, HubMLManager(proxy_base=proxy))
    serverapp.log.info("hubml: API at %shubml/api/", serverapp.base_url)


def serves_proxy(serverapp: Any) -> bool:
    """Whether jupyter-server-proxy is enabled in this server (installed is not enough: /proxy/ must answer)."""
    extension = serverapp.extension_manager.extensions.get("jupyter_server_proxy")
    return bool(extension is not None and extension.enabled)


__all__ = ["HubMLManager"]
