"""hubml's IPython magics (installed as `hubml.magics`): `%%train`, `%jobs`, `%logs`, `%cancel`,
`%deploy`/`%%deploy`, `%predict`, `%undeploy`, `%endpoints`, `%tensorboard`.

`%load_ext hubml` calls `register(ipython)`.
"""
from __future__ import annotations

from typing import Any

from hubml.magics.deploy import DeployMagics
from hubml.magics.tensorboard import TensorBoardMagics
from hubml.magics.train import TrainMagics
from hubml.magics.tune import TuneMagics

MAGIC_CLASSES = [TrainMagics, DeployMagics, TuneMagics, TensorBoardMagics]


def register(ipython: Any) -> None:
    for magic_class in MAGIC_CLASSES:
        ipython.register_magics(magic_class(shell=ipython))


def unregister(ipython: Any) -> None:
    for magic_class in MAGIC_CLASSES:
        for kind, names in magic_class.magics.items():
            for name in names:
                ipython.magics_manager.magics[kind].pop(name, None)
