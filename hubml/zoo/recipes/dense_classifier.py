"""hubml zoo `dense-classifier`: a multilayer perceptron on four numeric features, three classes."""
import json
import os

import keras
import tensorflow as tf

from hubml.zoo import data
from hubml.zoo.export import callbacks, export_classifier


def train(epochs: int = 2, units: int = 32, learning_rate: float = 0.01, samples: int = 600, seed: int = 0) -> None:
    ((x, y), (x_val, y_val)), classes = data.blobs(samples, seed)
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input(shape=(x.shape[1],), name="features"),
        keras.layers.Dense(units, activation="relu"),
        keras.layers.Dense(units, activation="relu"),
        keras.layers.Dense(len(classes), activation="softmax"),
    ])
    model.compile(keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, validation_data=(x_val, y_val), epochs=epochs, batch_size=32, verbose=2, callbacks=callbacks())
    export_classifier(model, tf.TensorSpec([None, x.shape[1]], tf.float32, name="features"), classes)


if __name__ == "__main__":
    train(**json.loads(os.environ.get("HUBML_HPARAMS") or "{}"))
