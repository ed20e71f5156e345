"""`hubml.keras.ReportCallback()`: Keras metrics into the job's record, and resumable training.

Each epoch's logs go through `hubml.report`, with `epoch` and `epochs` so
progress bars know how far along a job is. Inside a job the callback also
wraps Keras' `BackupAndRestore` under `HUBML_CHECKPOINT_DIR`, so a replica that
is killed and retried resumes at the epoch it reached instead of starting over.

The callback matches the Keras the job uses: tf-keras when
`TF_USE_LEGACY_KERAS=1` (multi-replica jobs), Keras 3 otherwise.
"""
from __future__ import annotations

import os
from typing import Any

from hubml.extras import require
from hubml.reporting import report

require("tensorflow", "hubml.keras")
if os.environ.get("TF_USE_LEGACY_KERAS") == "1":
    import tf_keras as keras
else:
    import keras


class ReportCallback(keras.callbacks.Callback):
    def __init__(self, backup: bool = True):
        super().__init__()
        directory = os.environ.get("HUBML_CHECKPOINT_DIR")
        self.backup = keras.callbacks.BackupAndRestore(os.path.join(directory, "backup")) \
            if backup and directory else None

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        if self.backup:
            self.backup.set_model(model)

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        if self.backup:
            self.backup.set_params(params)

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.backup:
            self.backup.on_train_begin(logs)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self.backup:
            self.backup.on_epoch_begin(epoch, logs)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.backup:
            self.backup.on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        report(step=epoch + 1, epoch=epoch + 1, epochs=self.params.get("epochs"), **(logs or {}))
        if self.backup:
            self.backup.on_epoch_end(epoch, logs)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.backup:
            self.backup.on_train_end(logs)
