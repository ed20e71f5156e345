"""hubml zoo `small-cnn`: a two-block convolutional network on 12x12 grey images of lines, three classes."""
import json
import os

import keras
import tensorflow as tf

from hubml.zoo import data
from hubml.zoo.export import callbacks, export_classifier


def train(epochs: int = 2, filters: int = 16, learning_rate: float = 0.005, samples: int = 600, seed: int = 0) -> None:
    ((x, y), (x_val, y_val)), classes = data.shapes(samples, seed)
    keras.utils.set_random_seed(seed)
    size = x.shape[1]
    model = keras.Sequential([
        keras.Input(shape=(size, size), name="image"),
        keras.layers.Reshape((size, size, 1)),
        keras.layers.Conv2D(filters, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(filters * 2, 3, padding="same", activation="relu"),
        keras.layers.GlobalMaxPooling2D(),
        keras.layers.Dense(len(classes), activation="softmax"),
    ])
    model.compile(keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, validation_data=(x_val, y_val), epochs=epochs, batch_size=32, verbose=2, callbacks=callbacks())
    export_classifier(model, tf.TensorSpec([None, size, size], tf.float32, name="image"), classes)


if __name__ == "__main__":
    train(**json.loads(os.environ.get("HUBML_HPARAMS") or "{}"))
