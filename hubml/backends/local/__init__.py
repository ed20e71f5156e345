"""The local backend (`local`), the embedded default: jobs as detached processes on this machine, state in SQLite.

    HUBML_HOME/hubml.db           jobs, endpoints, sweeps
    HUBML_HOME/jobs/{id}/         logs and work folders when storage is not file://
    {storage}/jobs/{id}/          the job folder of the contract (bundle, logs, metrics, model.json)

The package's own import is empty on purpose: the supervisor and the runtime
import modules from here and must not pay for the client's imports.
"""
