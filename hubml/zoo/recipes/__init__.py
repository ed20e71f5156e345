"""The zoo's training scripts. Each is shipped as a job's code, run with `__name__ == "__main__"`,
and reads its hyperparameters from `HUBML_HPARAMS`; none is imported by hubml itself."""
