"""`KubernetesBackend`: the `Backend` primitives on the official `kubernetes` client.

The cluster is the database. A job is its record (a ConfigMap), a headless
Service and one Indexed Job per role, found by the `hubml.io/job` and
`hubml.io/user` labels; an endpoint is a Deployment and a Service. Job status
comes from two list-and-watches per namespace (records and Jobs), never from
polling each job. Everything happens in the namespace from the settings, and
nowhere else.
"""
from __future__ import annotations

import json
import os
import threading
from typing import Any, Iterator

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from hubml import storage
from hubml.backends.base import (ENDPOINT_FAILED, ENDPOINT_PENDING, ENDPOINT_READY, Backend, JobRecord,
                                 LogLine, endpoint_record)
from hubml.backends.kubernetes import manifests, status
from hubml.backends.kubernetes.logs import LogSource, follow_logs, read_logs
from hubml.backends.kubernetes.manifests import (ENDPOINT_LABEL, JOB_LABEL, RECORD_LABEL, USER_LABEL, Target,
                                                 label_value)
from hubml.backends.kubernetes.options import ClusterOptions
from hubml.backends.kubernetes.tenancy import check_namespace_name, check_within
from hubml.backends.kubernetes.watch import REQUEST_TIMEOUT, ResourceWatch
from hubml.backends.local.backend import demand_of
from hubml.config import Settings
from hubml.exceptions import BackendError, InvalidArgument
from hubml.specs import DeploySpec, TrainSpec

SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
SYNC_TIMEOUT_SECONDS = 30.0
# Replicas left running once a job is decided end by themselves within seconds (hubml.runtime.k8s_entry),
# keeping their pods and logs; the backend stops what is still running after this grace.
LEFTOVER_GRACE_SECONDS = 30.0
FOREGROUND = {"propagationPolicy": "Foreground"}
# What a job's demand is checked against in the namespace's ResourceQuota, and the option to blame.
QUOTA_RESOURCES = {"cpu": ("requests.cpu", "limits.cpu", "cpu"),
                   "memory": ("requests.memory", "limits.memory", "memory"),
                   "gpus": ("requests.nvidia.com/gpu",), "pods": ("pods",)}
QUOTA_OPTIONS = {"cpu": "--cpu", "memory": "--memory", "gpus": "--gpus", "pods": "--workers"}


class KubernetesBackend(Backend):
    name = "kubernetes"
    leftover_grace_seconds = LEFTOVER_GRACE_SECONDS

    def __init__(self, settings: Settings, api_client: k8s.ApiClient | None = None,
                 options: ClusterOptions | None = None, home_namespace: str | None = None):
        """`api_client` and `home_namespace` are for tests; in a cluster both come from the pod's service account."""
        super().__init__(settings)
        self.namespace = check_namespace_name(settings.namespace)
        check_within(self.namespace, home_namespace or own_namespace() or self.namespace)
        self.options = options or ClusterOptions.resolve()
        self.target = Target(self.namespace, settings.user, settings.storage, self.options)
        self._owns_client = api_client is None
        self.api_client = api_client or load_api_client()
        self.core = k8s.CoreV1Api(self.api_client)
        self.batch = k8s.BatchV1Api(self.api_client)
        self.apps = k8s.AppsV1Api(self.api_client)
        self.log_source = LogSource(self.api_client, self.core, self.namespace)
        self._user_selector = f"{USER_LABEL}={label_value(settings.user)}"
        self._lock = threading.Lock()
        self._records: ResourceWatch | None = None
        self._role_jobs: ResourceWatch | None = None
        self._settled: set[str] = set()
        self._cleanups: list[threading.Timer] = []

    def close(self) -> None:
        """Stop the watches and pending clean-ups (and close the client this backend made)."""
        for cleanup in self._cleanups:
            cleanup.cancel()
        for watch in (self._records, self._role_jobs):
            if watch is not None:
                watch.stop()
        if self._owns_client:
            self.api_client.close()

    # --- jobs ------------------------------------------------------------------------

    def _check_capacity(self, spec: TrainSpec) -> None:
        """Refuse, before the bundle is stored, a spec for another namespace, one no pod could run, or one
        asking for more than the namespace's quota allows at all (its pods would never be admitted)."""
        check_within(getattr(spec, "namespace", None) or spec.env.get("HUBML_NAMESPACE"), self.namespace)
        manifests.job_manifests("check-000000", spec, self.target)
        try:
            limits = {row["resource"]: row["limit"] for row in self._quota()}
        except BackendError:  # quota unreadable: the API server still enforces it
            return
        demand = {**demand_of(spec), "pods": float(sum(spec.replicas.values()))}
        for key, resources in QUOTA_RESOURCES.items():
            for resource in resources:
                if resource in limits and demand[key] > limits[resource]:
                    raise InvalidArgument(QUOTA_OPTIONS[key], f"the job asks for {demand[key]:g} {key} in all, more "
                                          f"than the namespace quota's {resource} of {limits[resource]:g}; "
                                          "it could never start (see `hubml quota`)")

    def _submit(self, record: JobRecord) -> JobRecord:
        spec = TrainSpec.from_dict(record.spec)
        objects = manifests.job_manifests(record.id, spec, self.target)
        owner = self._create(manifests.job_record(record.id, spec, self.target, record.submitted_at))
        records, role_jobs = self._watches()
        records.put(owner)
        try:
            for manifest in objects:
                created = self._create(manifests.owned_by(manifest, owner))
                if created["kind"] == "Job":
                    role_jobs.put(created)
        except BackendError:  # e.g. the quota admits no more Jobs: take back what was created
            self._settled.add(record.id)
            self._delete(self.core.delete_namespaced_config_map, record.id)
            raise
        return self.job(record.id)

    def _job(self, job_id: str) -> JobRecord | None:
        records, role_jobs = self._watches()
        record = records.get(job_id) or self._read_record(job_id)
        return None if record is None else self._job_record(record, role_jobs.snapshot())

    def _jobs(self) -> list[JobRecord]:
        records, role_jobs = self._watches()
        jobs = role_jobs.snapshot()
        return [self._job_record(record, jobs) for record in records.snapshot().values()]

    def _cancel(self, record: JobRecord) -> JobRecord:
        self._settled.add(record.id)
        for role in TrainSpec.from_dict(record.spec).replicas:
            self._delete(self.batch.delete_namespaced_job, f"{record.id}-{role}")
        self._delete(self.core.delete_namespaced_service, manifests.service_name(record.id))
        self._settle(status.cancelled(record))
        return self.job(record.id)

    def _logs(self, record: JobRecord, follow: bool, cursor: dict | None) -> Iterator[LogLine]:
        if follow:
            return follow_logs(self.log_source, record.id, lambda: self.job(record.id).final, cursor)
        return read_logs(self.log_source, record.id, cursor)

    # --- status: two watches, and what they show ---------------------------------------

    def _watches(self) -> tuple[ResourceWatch, ResourceWatch]:
        with self._lock:
            if self._records is None:
                self._records = ResourceWatch(self.core.list_namespaced_config_map, self.namespace,
                                              f"{RECORD_LABEL}=job,{self._user_selector}", self._observe).start()
                self._role_jobs = ResourceWatch(self.batch.list_namespaced_job, self.namespace,
                                                f"{JOB_LABEL},{self._user_selector}", self._observe).start()
        self._records.wait_synced(SYNC_TIMEOUT_SECONDS)
        self._role_jobs.wait_synced(SYNC_TIMEOUT_SECONDS)
        return self._records, self._role_jobs

    def _job_record(self, record: dict[str, Any], jobs: dict[str, dict[str, Any]]) -> JobRecord:
        job_id = record["metadata"]["name"]
        roles = TrainSpec.from_dict(json.loads(record["data"]["spec.json"])).replicas
        role_jobs = {role: jobs[f"{job_id}-{role}"] for role in roles if f"{job_id}-{role}" in jobs}
        return status.job_record(record, role_jobs)

    def _observe(self, obj: dict[str, Any]) -> None:
        """Called by the watches on every change: write down the outcome of a job seen ending."""
        job_id = (obj["metadata"].get("labels") or {}).get(JOB_LABEL)
        watches = (self._records, self._role_jobs)
        if not job_id or job_id in self._settled or not all(w is not None and w.synced.is_set() for w in watches):
            return
        record = self._records.get(job_id)
        if record is None or (record["metadata"].get("annotations") or {}).get(status.STATE):
            return
        job = self._job_record(record, self._role_jobs.snapshot())
        with self._lock:  # both watch threads call this: settle each job once
            if not job.final or job_id in self._settled:
                return
            self._settled.add(job_id)
        try:
            self._settle(job)
        except (ApiException, BackendError):
            self._settled.discard(job_id)  # the next change retries
            return
        cleanup = threading.Timer(self.leftover_grace_seconds, self._remove_leftover_replicas, [job])
        cleanup.daemon = True
        self._cleanups.append(cleanup)
        cleanup.start()

    def _remove_leftover_replicas(self, job: JobRecord) -> None:
        """As TFJob: once the job is decided, the ps (and, with a chief, the workers) are stopped."""
        spec = TrainSpec.from_dict(job.spec)
        for role in spec.replicas:
            if job.state == status.SUCCEEDED and role == "worker" and not spec.chief:
                continue  # without a chief, the other workers finish on their own
            role_job = self._role_jobs.get(f"{job.id}-{role}")
            if role_job is not None and not status.success_condition(role_job) and not status.failure_condition(role_job):
                try:
                    self._delete(self.batch.delete_namespaced_job, f"{job.id}-{role}")
                except BackendError as error:  # a timer thread: say it, the TTL or a cancel cleans up later
                    print(f"hubml: could not stop the leftover {role} replicas of {job.id}: {error}")

    def _settle(self, job: JobRecord) -> None:
        patch = {"metadata": {"annotations": status.final_annotations(job)}}
        response = self._call(self.core.patch_namespaced_config_map, job.id, self.namespace, patch)
        self._records.put(response)

    def _read_record(self, job_id: str) -> dict[str, Any] | None:
        """A record the watch has not brought yet (another client's fresh submission)."""
        try:
            record = self._call(self.core.read_namespaced_config_map, job_id, self.namespace)
        except BackendError as error:
            if isinstance(error.__cause__, ApiException) and error.__cause__.status == 404:
                return None
            raise
        labels = record["metadata"].get("labels") or {}
        mine = labels.get(RECORD_LABEL) == "job" and labels.get(USER_LABEL) == label_value(self.settings.user)
        return record if mine else None

    # --- endpoints -------------------------------------------------------------------

    def _deploy(self, spec: DeploySpec) -> dict[str, Any]:
        check_within(getattr(spec, "namespace", None), self.namespace)
        if storage.is_local(spec.model) and not spec.model.startswith(self.settings.storage.rstrip("/") + "/"):
            raise InvalidArgument("MODEL", f"{spec.model} is outside storage ({self.settings.storage}), so the "
                                  "cluster cannot read it: copy it to storage's models/ first")
        deployment, service = manifests.endpoint_manifests(spec, self.target)
        created = self._create(deployment)
        self._create(service)
        return self._endpoint_record(created)

    def _endpoint(self, name: str) -> dict[str, Any] | None:
        try:
            deployment = self._call(self.apps.read_namespaced_deployment, name, self.namespace)
        except BackendError as error:
            if isinstance(error.__cause__, ApiException) and error.__cause__.status == 404:
                return None
            raise
        labels = deployment["metadata"].get("labels") or {}
        mine = ENDPOINT_LABEL in labels and labels.get(USER_LABEL) == label_value(self.settings.user)
        return self._endpoint_record(deployment) if mine else None

    def _endpoints(self) -> list[dict[str, Any]]:
        listed = self._call(self.apps.list_namespaced_deployment, self.namespace,
                            label_selector=f"{ENDPOINT_LABEL},{self._user_selector}")
        return [self._endpoint_record(deployment) for deployment in listed["items"]]

    def _undeploy(self, name: str) -> None:
        self._delete(self.apps.delete_namespaced_deployment, name)
        self._delete(self.core.delete_namespaced_service, manifests.service_name(name))

    def _endpoint_record(self, deployment: dict[str, Any]) -> dict[str, Any]:
        spec = DeploySpec.from_dict(json.loads(deployment["metadata"]["annotations"]["hubml.io/spec"]))
        host = manifests.endpoint_host(spec.name, self.target)
        state, reason = endpoint_state(deployment)
        return endpoint_record(spec, self.name, state=state, reason=reason,
                               versions=[] if spec.version is None else [spec.version],
                               rest_url=f"http://{host}:{manifests.REST_PORT}",
                               grpc_target=f"{host}:{manifests.GRPC_PORT}",
                               created_at=status.timestamp(deployment["metadata"].get("creationTimestamp")))

    # --- quota -----------------------------------------------------------------------

    def _quota(self) -> list[dict[str, Any]]:
        from kubernetes.utils import parse_quantity

        quotas = self._call(self.core.list_namespaced_resource_quota, self.namespace)["items"]
        rows = []
        for quota in quotas:
            hard = (quota.get("status") or {}).get("hard") or quota["spec"].get("hard") or {}
            used = (quota.get("status") or {}).get("used") or {}
            for resource, limit in sorted(hard.items()):
                rows.append({"resource": resource, "used": float(parse_quantity(used.get(resource, "0"))),
                             "limit": float(parse_quantity(limit)),
                             "source": f"ResourceQuota {quota['metadata']['name']} in {self.namespace}"})
        return rows

    # --- API calls -------------------------------------------------------------------

    def _create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        check_within(manifest["metadata"].get("namespace"), self.namespace)
        creators = {"ConfigMap": self.core.create_namespaced_config_map,
                    "Service": self.core.create_namespaced_service,
                    "Job": self.batch.create_namespaced_job,
                    "Deployment": self.apps.create_namespaced_deployment}
        return self._call(creators[manifest["kind"]], self.namespace, manifest)

    def _delete(self, delete: Any, name: str) -> None:
        """Delete with foreground propagation (pods go first); a missing object is already deleted."""
        try:
            self._call(delete, name, self.namespace, body=FOREGROUND)
        except BackendError as error:
            if not (isinstance(error.__cause__, ApiException) and error.__cause__.status == 404):
                raise

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            response = method(*args, _preload_content=False, _request_timeout=REQUEST_TIMEOUT, **kwargs)
        except ApiException as error:
            raise BackendError(f"Kubernetes refused {method.__name__} in namespace {self.namespace}: "
                               f"{error.status} {api_message(error)}") from error
        return json.loads(response.data)


def endpoint_state(deployment: dict[str, Any]) -> tuple[str, str]:
    wanted = deployment["spec"].get("replicas", 1)
    observed = deployment.get("status") or {}
    for condition in observed.get("conditions") or []:
        failed = (condition.get("type") == "Progressing" and condition.get("status") == "False") or \
                 (condition.get("type") == "ReplicaFailure" and condition.get("status") == "True")
        if failed:
            return ENDPOINT_FAILED, condition.get("message") or condition.get("reason", "")
    if int(observed.get("readyReplicas") or 0) >= wanted:
        return ENDPOINT_READY, ""
    return ENDPOINT_PENDING, f"{int(observed.get('readyReplicas') or 0)}/{wanted} replicas ready"


def api_message(error: ApiException) -> str:
    try:
        return json.loads(error.body).get("message", error.reason)
    except (TypeError, ValueError):
        return str(error.reason)


def own_namespace() -> str | None:
    """The namespace of the pod this runs in (from its service account), or None outside a cluster."""
    if os.path.exists(SERVICE_ACCOUNT_NAMESPACE):
        with open(SERVICE_ACCOUNT_NAMESPACE) as handle:
            return handle.read().strip()
    return None


def load_api_client() -> k8s.ApiClient:
    """In a pod, its service account; elsewhere, the kubeconfig (KUBECONFIG or ~/.kube/config)."""
    from kubernetes import config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        try:
            # KUBECONFIG as it is now: the client reads it only once, when first imported.
            config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))
        except (config.ConfigException, OSError) as error:
            raise BackendError(f"no Kubernetes cluster to talk to: not in a pod, and no kubeconfig ({error})") \
                from error
    return k8s.ApiClient()
