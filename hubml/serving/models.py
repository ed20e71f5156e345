"""The model manager: which versions of which models are loaded, and their states.

For each configured model it lists the version folders under the base path,
keeps the versions the version policy asks for (latest N, all, or specific
ones; default the highest), loads and warms new ones before they answer, and
only then drops the ones no longer wanted. A request holds the `Servable` it
resolved, so dropping a version never fails a request already running on it;
the session closes when the last such request lets go. `poll` repeats this
every `--file_system_poll_wait_seconds`.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from hubml.exceptions import ServingError, StorageError
from hubml.serving import storage
from hubml.serving.config import ModelServerConfig
from hubml.serving.servable import Servable

log = logging.getLogger(__name__)


@dataclass
class VersionState:
    """One version's lifecycle, in ModelVersionStatus' terms."""

    state: str  # START, LOADING, AVAILABLE, UNLOADING, END
    error_code: str = "OK"
    error_message: str = ""


class _Model:
    def __init__(self, config):
        self.config = config
        self.servables: dict[int, Servable] = {}
        self.states: dict[int, VersionState] = {}

    @property
    def labels(self) -> dict[str, int]:
        return dict(self.config.version_labels)

    def wanted(self, available: list[int]) -> set[int]:
        policy = self.config.model_version_policy
        kind = policy.WhichOneof("policy_choice")
        if kind == "all":
            return set(available)
        if kind == "specific":
            return set(policy.specific.versions) & set(available)
        count = policy.latest.num_versions if kind == "latest" and policy.latest.num_versions > 0 else 1
        return set(sorted(available)[-count:])


class ModelManager:
    """Loads, serves and unloads model versions for a `ModelServerConfig`."""

    def __init__(self, config: ModelServerConfig, warm_up_sizes: tuple[int, ...] = (1, 2)):
        self._warm_up_sizes = warm_up_sizes
        self._models: dict[str, _Model] = {}
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._stop = threading.Event()
        self.reload_config(config)

    def reload_config(self, config: ModelServerConfig) -> None:
        """Serve exactly the models in `config` (HandleReloadConfigRequest)."""
        with self._lock:
            old = self._models
            self._models = {c.name: old[c.name] if c.name in old else _Model(c) for c in config.model_config_list.config}
            for model_config in config.model_config_list.config:
                self._models[model_config.name].config = model_config
            dropped = [model for name, model in old.items() if name not in self._models]
        for model in dropped:
            self._unload(model, list(model.servables))
        self.poll()

    def poll(self) -> None:
        """One pass over every model's base path: load wanted versions, then unload the rest."""
        with self._poll_lock:
            for model in list(self._models.values()):
                try:
                    on_disk = storage.list_versions(model.config.base_path)
                except StorageError as error:  # storage hiccup: keep serving what is loaded
                    log.warning("cannot list %s: %s", model.config.base_path, error)
                    continue
                wanted = model.wanted(list(on_disk))
                if not on_disk:
                    log.warning("No versions of servable %s found under base path %s",
                                model.config.name, model.config.base_path)
                for version in sorted(wanted - set(model.servables)):
                    self._load(model, version, on_disk[version])
                self._unload(model, [v for v in model.servables if v not in wanted])

    def _load(self, model: _Model, version: int, path: str) -> None:
        if model.states.get(version, VersionState("START")).error_code != "OK":
            return  # a version that failed to load is not retried until its folder changes name
        model.states[version] = VersionState("LOADING")
        try:
            servable = Servable(model.config.name, version, storage.local_copy(path))
            servable.warm_up(self._warm_up_sizes)
        except Exception as error:  # noqa: BLE001 - a broken version must not stop the server
            log.error("loading %s version %d failed: %s", model.config.name, version, error)
            model.states[version] = VersionState("END", "UNKNOWN", str(error))
            return
        with self._lock:
            model.servables[version] = servable
        model.states[version] = VersionState("AVAILABLE")
        log.info("serving %s version %d", model.config.name, version)

    def _unload(self, model: _Model, versions: list[int]) -> None:
        for version in versions:
            model.states[version] = VersionState("UNLOADING")
            with self._lock:
                model.servables.pop(version, None)
            model.states[version] = VersionState("END")
            log.info("unloaded %s version %d", model.config.name, version)

    def start_polling(self, interval_seconds: float) -> None:
        if interval_seconds <= 0:
            return

        def loop() -> None:
            while not self._stop.wait(interval_seconds):
                try:
                    self.poll()
                except Exception:  # noqa: BLE001 - polling must survive anything
                    log.exception("polling for new versions failed")

        threading.Thread(target=loop, name="hubml-version-poll", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def model_names(self) -> list[str]:
        return list(self._models)

    def get(self, name: str, version: int | None = None, label: str | None = None) -> Servable:
        """The servable a request names, with TF Serving's errors when there is none
        (server_core.cc ServableRequestFromModelSpec)."""
        if not name:
            raise ServingError("INVALID_ARGUMENT", "ModelSpec has no name specified.")
        model = self._models.get(name)
        if label:
            if model is None or label not in model.labels:
                raise ServingError("INVALID_ARGUMENT", f"Unrecognized servable version label: {label}")
            version = model.labels[label]
        servables = model.servables if model else {}
        if version is None:
            if not servables:
                raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({name})")
            return servables[max(servables)]
        if version not in servables:
            raise ServingError("NOT_FOUND", f"Servable not found for request: Specific({name}, {version})")
        return servables[version]

    def states(self, name: str, version: int | None = None, label: str | None = None) -> dict[int, VersionState]:
        """Version -> state for GetModelStatus, newest first."""
        model = self._models.get(name)
        if model is None or not model.states:
            raise ServingError("NOT_FOUND", f"Could not find any versions of model {name}")
        if label:
            if label not in model.labels:
                raise ServingError("INVALID_ARGUMENT", f"Unrecognized servable version label: {label}")
            version = model.labels[label]
        if version is not None:
            if version not in model.states:
                raise ServingError("NOT_FOUND", f"Could not find version {version} of model {name}")
            return {version: model.states[version]}
        return dict(sorted(model.states.items(), reverse=True))
