"""What users hold: `Job` (here), `Endpoint` and `Sweep` beside it.

A handle is a thin, live view over the client: every property that can change
asks the backend again, so a handle kept in a notebook never goes stale, and a
handle rebuilt from an id after a kernel restart is the same handle.
"""
from hubml.handles.endpoint import Endpoint
from hubml.handles.job import Job

__all__ = ["Endpoint", "Job"]
