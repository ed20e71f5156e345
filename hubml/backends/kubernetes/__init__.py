"""The Kubernetes backend: training jobs as Indexed Jobs, endpoints as TF Serving Deployments.

    manifests.py  spec -> plain dicts (Jobs, headless Service, job record, endpoint)
    tenancy.py    per-namespace RBAC, ResourceQuota and the namespace guard
    options.py    cluster-side settings (images, GPU nodes, storage Secret)
    status.py     a job's state, derived from its record and its Jobs
    watch.py      one list-and-watch per resource kind and namespace
    logs.py       replica logs, followed and resumed without loss or repeats
    backend.py    `KubernetesBackend`, the `Backend` primitives on the official client

Only backend.py, watch.py and logs.py import the `kubernetes` package, so
`import hubml` and the local backend never need it.
"""
