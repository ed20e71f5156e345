export namespace CommandIDs {
  export const insertTrainCell = 'hubml:insert-train-cell';
  export const openLogs = 'hubml:open-logs';
}

/** The cell `hubml:insert-train-cell` adds: a small Keras job on synthetic data that reports its epochs. */
export const TRAIN_TEMPLATE = `%%train --name my-model --hparam epochs=5
import os
import numpy as np
import keras
import hubml.keras

rng = np.random.default_rng(0)
x = rng.normal(size=(2048, 8)).astype("float32")
y = (x.sum(axis=1) > 0).astype("int32")

model = keras.Sequential([
    keras.Input(shape=(8,)),
    keras.layers.Dense(32, activation="relu"),
    keras.layers.Dense(2, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=epochs, batch_size=64, validation_split=0.2, verbose=2,
          callbacks=[hubml.keras.ReportCallback()])
model.export(os.environ["HUBML_MODEL_DIR"])`;
