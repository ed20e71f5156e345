"""The job runtime: `python -m hubml.runtime` inside every replica, on every backend.

It fetches the bundle, sets up the job contract (`TF_CONFIG` is given by the
backend; this sets `HUBML_MODEL_DIR`, `HUBML_CHECKPOINT_DIR`,
`HUBML_TENSORBOARD_DIR`, `HUBML_HPARAMS`), installs `requirements.txt` into a
cached per-job environment, runs the cell or the package module, and on the
deciding replica publishes the exported model as the next version.

It imports only the standard library and small hubml modules, so a trivial
job costs one Python start-up, not an IPython or TensorFlow import.
"""
