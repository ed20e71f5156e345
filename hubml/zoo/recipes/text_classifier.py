"""hubml zoo `text-classifier`: raw text in, sentiment out; the vocabulary is part of the model (TextVectorization)."""
import json
import os

import keras
import tensorflow as tf

from hubml.zoo import data
from hubml.zoo.export import callbacks, export_classifier


def train(epochs: int = 2, embedding: int = 16, max_tokens: int = 200, sequence_length: int = 12,
          learning_rate: float = 0.01, samples: int = 600, seed: int = 0) -> None:
    ((x, y), (x_val, y_val)), classes = data.sentences(samples, seed)
    keras.utils.set_random_seed(seed)
    vectorize = keras.layers.TextVectorization(max_tokens=max_tokens, output_sequence_length=sequence_length)
    vectorize.adapt(x)
    text = keras.Input(shape=(), dtype="string", name="text")
    hidden = keras.layers.Embedding(max_tokens, embedding)(vectorize(text))
    hidden = keras.layers.GlobalAveragePooling1D()(hidden)
    model = keras.Model(text, keras.layers.Dense(len(classes), activation="softmax")(hidden))
    model.compile(keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"])
    # Keras 3 takes string tensors through tf.data, not as NumPy arrays.
    train_set = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed).batch(32)
    validation_set = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(32)
    model.fit(train_set, validation_data=validation_set, epochs=epochs, verbose=2, callbacks=callbacks())
    export_classifier(model, tf.TensorSpec([None], tf.string, name="text"), classes)


if __name__ == "__main__":
    train(**json.loads(os.environ.get("HUBML_HPARAMS") or "{}"))
