"""hubml: one line to train, one to serve, from inside Jupyter.

`magics/` and `extension/` are top-level folders so the parts of the system show
in the tree; `package_dir` installs them as `hubml.magics` and `hubml.extension`.
"""
import os

from setuptools import find_packages, setup

PACKAGES = find_packages(include=["hubml", "hubml.*"])
MAPPED = {"hubml.magics": "magics", "hubml.extension": "extension"}
MAPPED_PACKAGES = [
    f"{name}.{sub}" if sub else name
    for name, folder in MAPPED.items()
    for sub in [""] + find_packages(where=folder)
]


def tree(source: str, target: str) -> list[tuple[str, list[str]]]:
    """data_files entries installing every file under `source` at the same place under `target`."""
    return [(os.path.normpath(os.path.join(target, os.path.relpath(folder, source))), [os.path.join(folder, name)
             for name in names]) for folder, _, names in os.walk(source) if names]


# The Jupyter server extension's switch, and the sidebar as a prebuilt labextension
# (`make labextension` builds extension/labextension/static before a wheel is made).
DATA_FILES = [
    ("etc/jupyter/jupyter_server_config.d", ["extension/jupyter-config/jupyter_server_config.d/hubml.json"]),
    ("share/jupyter/labextensions/hubml", ["extension/labextension/install.json"]),
    *tree("extension/labextension/static", "share/jupyter/labextensions/hubml"),
]


# Compatible ranges: installing hubml must not pin a user's environment. The exact versions the suite is
# tested with are requirements/constraints.txt, which `make venv` installs with.
REQUIRES = [
    "ipython>=8.12", "ipykernel>=6.25", "ipywidgets>=8", "traitlets>=5.9", "jupyter_core>=5",
    "nbformat>=5.9", "papermill>=2.5,<3",  # batch runs: a notebook executed in a python3 kernel
    "fsspec>=2024.6", "s3fs>=2024.6", "pyyaml>=6",
    "numpy>=1.26", "orjson>=3.10",  # the predict client over REST
]
TENSORFLOW = ["tensorflow>=2.16,<3", "tf-keras>=2.16,<3", "tensorboard>=2.16,<3"]
# Each place installs only what it runs; hubml/extras.py names the imports each extra provides, and says
# which `pip install 'hubml[...]'` is missing. tests/packaging checks both against a built wheel.
EXTRAS = {
    "tensorflow": TENSORFLOW,
    # `hubml serve`, and the predict client's gRPC (TF Serving's stubs are built on TensorFlow's protos)
    "serve": [*TENSORFLOW, "tensorflow-serving-api>=2.16,<3", "grpcio>=1.60", "pysimdjson>=6",
              "prometheus-client>=0.20", "uvloop>=0.19", "httptools>=0.6"],
    "tune": ["optuna>=4,<6", "pandas>=2", "matplotlib>=3.7"],
    "kubernetes": ["kubernetes>=30"],
    # the hub: its configuration, the pre-spawn hook's tenancy, KubeSpawner, the idle culler and OAuth log-in
    # (hub_config/README.md); no TensorFlow
    "hub": ["jupyterhub>=5,<7", "jupyterhub-kubespawner>=7,<8", "jupyterhub-idle-culler>=1.4", "oauthenticator>=16"],
    # the notebook server: the sidebar (built against JupyterLab 4), its REST extension, TensorBoard behind
    # the notebook's proxy on a hub
    "lab": ["jupyterlab>=4.2,<5", "jupyter_server>=2.10", "jupyter-server-proxy>=4.4"],
}
EXTRAS["all"] = sorted({requirement for requirements in EXTRAS.values() for requirement in requirements})


setup(
    name="hubml",
    version="0.1.0",
    description="A deep-learning platform that lives inside Jupyter",
    python_requires=">=3.10",
    packages=PACKAGES + MAPPED_PACKAGES,
    package_dir=MAPPED,
    include_package_data=True,
    package_data={"hubml": ["py.typed"]},
    data_files=DATA_FILES,
    install_requires=REQUIRES,
    extras_require=EXTRAS,
    entry_points={
        "console_scripts": ["hubml = hubml.cli:main"],
        "hubml.backends": [
            "local = hubml.backends.local.backend:LocalBackend",
            "kubernetes = hubml.backends.kubernetes.backend:KubernetesBackend [kubernetes]",
        ],
    },
)
