"""hubml serve: a TensorFlow-Serving-compatible model server, and the predict client."""
