"""hubml: one line to train, one to serve, from inside Jupyter.

`magics/` and `extension/` are top-level folders so the parts of the system show
in the tree; `package_dir` installs them as `hubml.magics` and `hubml.extension`.
"""
import os

from setuptools import find_packages, setup

CORE = find_packages(include=["hubml", "hubml.*"])
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


def read_requirements(path: str) -> list[str]:
    with open(path) as handle:
        return [line.split("#")[0].strip() for line in handle if line.split("#")[0].strip()]


setup(
    name="hubml",
    version="0.1.0",
    description="A deep-learning platform that lives inside Jupyter",
    python_requires=">=3.10",
    packages=CORE + MAPPED_PACKAGES,
    package_dir=MAPPED,
    include_package_data=True,
    package_data={"hubml": ["py.typed"]},
    data_files=DATA_FILES,
    install_requires=read_requirements("requirements/base.txt"),
    entry_points={
        "console_scripts": ["hubml = hubml.cli:main"],
        "hubml.backends": [
            "local = hubml.backends.local.backend:LocalBackend",
            "kubernetes = hubml.backends.kubernetes.backend:KubernetesBackend",
        ],
    },
)
