"""The hub side of hubml: JupyterHub config, profiles, per-user setup (see README.md)."""
