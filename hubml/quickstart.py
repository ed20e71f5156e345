"""`make quickstart`: run examples/quickstart.ipynb headless through papermill.

The notebook trains, deploys and predicts; this prints where the model, the
job's logs, the endpoint and the executed notebook are.
"""
from __future__ import annotations

import os
import sys

import papermill

from hubml.client import Client

NOTEBOOK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "quickstart.ipynb")


def main() -> int:
    client = Client()
    output = os.path.join(client.settings.home, "runs", "quickstart-output.ipynb")
    os.makedirs(os.path.dirname(output), exist_ok=True)
    os.environ["HUBML_PLAIN"] = "1"  # the output notebook holds text, not widgets nobody will see live
    print(f"Running {NOTEBOOK} with papermill (HUBML_HOME={client.settings.home}) ...", flush=True)
    papermill.execute_notebook(NOTEBOOK, output, kernel_name="python3", log_output=True, progress_bar=False)
    job = [job for job in client.jobs() if job.name == "quickstart"][-1]
    model = job.model or {}
    print(f"\n{job!r}")
    print(f"model:    {model.get('uri')}")
    print(f"logs:     {client.backend.job_url(job.id)}/logs/")
    for endpoint in client.endpoints():
        print(f"endpoint: {endpoint.rest_url} (REST), {endpoint.grpc_target} (gRPC); "
              f"stop it with: hubml endpoints undeploy {endpoint.name}")
    print(f"notebook: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
