"""`KubernetesBackend`: the `Backend` primitives on the official `kubernetes` client.

The cluster is the database. A job is its record (a ConfigMap), a headless
Service and one Indexed Job per role, found by the `hubml.io/job` and
`hubml.io/user` labels; an endpoint is a Deployment and a Service. Status comes
from four list-and-watches per namespace (records, Jobs, pods and warning
events), never from polling each job, so a pod that cannot start says why as
soon as the kubelet or the scheduler does. What decides a job runs in its pods
(hubml.runtime.k8s_entry), not here: a client that watches only writes down
what it saw and removes what a failed job left running. Everything happens in
the namespace from the settings, and nowhere else.
"""
from __future__ import annotations

import dataclasses
import json
import os
import threading
from typing import Any, Iterator

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from hubml import storage
from hubml.backends.base import CANCELLED, FAILED, Backend, JobRecord, LogLine, endpoint_record
from hubml.backends.kubernetes import manifests, status
from hubml.backends.kubernetes.logs import LogSource, follow_logs, has_stored_logs, read_logs, stored_logs
from hubml.backends.kubernetes.manifests import (ENDPOINT_LABEL, JOB_LABEL, RECORD_LABEL, USER_LABEL, Target,
                                                 label_value)
from hubml.backends.kubernetes.options import ClusterOptions
from hubml.backends.kubernetes.tenancy import check_namespace_name, check_within
from hubml.backends.kubernetes.watch import REQUEST_TIMEOUT, ResourceWatch
from hubml.backends.local.backend import demand_of
from hubml.config import Settings
from hubml.exceptions import BackendError, InvalidArgument
from hubml.runtime.attempts import JobFolder
from hubml.specs import DeploySpec, Resources, TrainSpec

SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
SYNC_TIMEOUT_SECONDS = 30.0
FOREGROUND = {"propagationPolicy": "Foreground"}
# What a job's demand is checked against in the namespace's ResourceQuota, and the option to blame.
QUOTA_RESOURCES = {"cpu": ("requests.cpu", "limits.cpu", "cpu"),
                   "memory": ("requests.memory", "limits.memory", "memory"),
                   "gpus": ("requests.nvidia.com/gpu",), "pods": ("pods",)}
QUOTA_OPTIONS = {"cpu": "--cpu", "memory": "--memory", "gpus": "--gpus", "pods": "--workers"}


class KubernetesBackend(Backend):
    name = "kubernetes"

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
        self._pods: ResourceWatch | None = None
        self._events: ResourceWatch | None = None
        self._settled: set[str] = set()
        self._outcomes: dict[str, dict[str, Any] | None] = {}

    def close(self) -> None:
        """Stop the watches (and close the client this backend made)."""
        for watch in (self._records, self._role_jobs, self._pods, self._events):
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
            defaulted = dataclasses.replace(spec, resources=self._default_resources(spec.resources))
        except BackendError:  # quota unreadable: the API server still enforces it
            return
        demand = {**demand_of(defaulted), "pods": float(sum(spec.replicas.values()))}
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
        records, role_jobs = self._watches()[:2]
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
        records = self._watches()[0]
        record = records.get(job_id) or self._read_record(job_id)
        return None if record is None else self._job_record(record)

    def _jobs(self) -> list[JobRecord]:
        records = self._watches()[0]
        return [self._job_record(record) for record in records.snapshot().values()]

    def _cancel(self, record: JobRecord) -> JobRecord:
        self._settled.add(record.id)
        # First the outcome, which the replicas read: stopped pods then end without starting another attempt.
        JobFolder(self.job_url(record.id)).decide(CANCELLED, -1, "cancelled by user", "hubml", record.attempt)
        self._remove_objects(record)
        self._settle(status.cancelled(record))
        return self.job(record.id)

    def _remove_objects(self, record: JobRecord) -> None:
        """The job's Jobs and Service, pods first (foreground); its record and outcome stay."""
        for role in TrainSpec.from_dict(record.spec).replicas:
            self._delete(self.batch.delete_namespaced_job, f"{record.id}-{role}")
        self._delete(self.core.delete_namespaced_service, manifests.service_name(record.id))

    def _logs(self, record: JobRecord, follow: bool, cursor: dict | None) -> Iterator[LogLine]:
        # Once a job is over, each replica has stored its whole log, and its pods may be on their way out.
        if record.final and (has_stored_logs(self.job_url(record.id), cursor)
                             or not self.log_source.replicas(record.id)):
            return stored_logs(self.job_url(record.id), cursor)
        if follow:
            return follow_logs(self.log_source, record.id, lambda: self.job(record.id).final, cursor)
        return read_logs(self.log_source, record.id, cursor)

    # --- status: four watches, and what they show ---------------------------------------

    def _watches(self) -> tuple[ResourceWatch, ResourceWatch, ResourceWatch, ResourceWatch]:
        with self._lock:
            if self._records is None:
                mine = self._user_selector
                self._records = ResourceWatch(self.core.list_namespaced_config_map, self.namespace,
                                              f"{RECORD_LABEL}=job,{mine}", self._observe).start()
                self._role_jobs = ResourceWatch(self.batch.list_namespaced_job, self.namespace,
                                                f"{JOB_LABEL},{mine}", self._observe).start()
                self._pods = ResourceWatch(self.core.list_namespaced_pod, self.namespace, mine,
                                           self._observe).start()
                self._events = ResourceWatch(self.core.list_namespaced_event, self.namespace, None,
                                             self._observe, field_selector="type=Warning").start()
        watches = (self._records, self._role_jobs, self._pods, self._events)
        for watch in watches:
            watch.wait_synced(SYNC_TIMEOUT_SECONDS)
        return watches

    def _job_record(self, record: dict[str, Any]) -> JobRecord:
        job_id = record["metadata"]["name"]
        roles = TrainSpec.from_dict(json.loads(record["data"]["spec.json"])).replicas
        jobs = self._jobs_of(job_id)
        role_jobs = {role: jobs[f"{job_id}-{role}"] for role in roles if f"{job_id}-{role}" in jobs}
        pods = [pod for pod in self._pods.snapshot().values()
                if (pod["metadata"].get("labels") or {}).get(JOB_LABEL) == job_id]
        settled = (record["metadata"].get("annotations") or {}).get(status.STATE)
        failed = any(status.failure_condition(each) for each in role_jobs.values())
        # The replicas' stored outcome is read only where the Jobs cannot tell: they are gone, or failed.
        outcome = self._outcome(job_id) if not settled and (len(role_jobs) < len(roles) or failed) else None
        return status.job_record(record, role_jobs, pods, self._events.snapshot().values(), outcome)

    def _outcome(self, job_id: str) -> dict[str, Any] | None:
        if self._outcomes.get(job_id) is None:
            try:
                self._outcomes[job_id] = JobFolder(self.job_url(job_id)).outcome()
            except OSError:  # storage unreachable now: the Jobs' own conditions still tell
                return None
        return self._outcomes[job_id]

    def _observe(self, obj: dict[str, Any]) -> None:
        """Called by the watches on every change: write down the end of a job seen ending, and remove what a job
        that failed before its code ran (an image that cannot be pulled, say) would otherwise keep retrying."""
        labels = obj["metadata"].get("labels") or {}
        job_id = labels.get(JOB_LABEL) or self._job_of_event(obj)
        watches = (self._records, self._role_jobs, self._pods, self._events)
        if not job_id or job_id in self._settled or not all(w is not None and w.synced.is_set() for w in watches):
            return
        record = self._records.get(job_id)
        if record is None or (record["metadata"].get("annotations") or {}).get(status.STATE):
            return
        job = self._job_record(record)
        with self._lock:  # every watch thread calls this: settle each job once
            if not job.final or job_id in self._settled:
                return
            self._settled.add(job_id)
        try:
            self._settle(job)
            if job.state == FAILED and not any(map(status.failure_condition, self._jobs_of(job_id).values())):
                self._remove_objects(job)  # failed before any code ran: its pods would wait forever
        except (ApiException, BackendError):
            self._settled.discard(job_id)  # the next change retries

    def _jobs_of(self, job_id: str) -> dict[str, dict[str, Any]]:
        return {name: job for name, job in self._role_jobs.snapshot().items()
                if (job["metadata"].get("labels") or {}).get(JOB_LABEL) == job_id}

    @staticmethod
    def _job_of_event(obj: dict[str, Any]) -> str | None:
        """The job a Job's event is about (events carry no labels, only the object they concern)."""
        involved = obj.get("involvedObject") or {}
        if obj.get("kind") == "Event" and involved.get("kind") == "Job":
            return involved.get("name", "").rsplit("-", 1)[0] or None
        return None

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
        try:
            self._create(service)
        except BackendError:  # e.g. the quota admits no more Services: take back the Deployment
            self._delete(self.apps.delete_namespaced_deployment, spec.name)
            raise
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
        host = self._endpoint_host(spec.name)
        _, _, pods, events = self._watches()
        mine = [pod for pod in pods.snapshot().values()
                if (pod["metadata"].get("labels") or {}).get(ENDPOINT_LABEL) == spec.name]
        state, reason = status.endpoint_state(deployment, mine, events.snapshot().values())
        return endpoint_record(spec, self.name, state=state, reason=reason,
                               versions=[] if spec.version is None else [spec.version],
                               rest_url=f"http://{host}:{manifests.REST_PORT}",
                               grpc_target=f"{host}:{manifests.GRPC_PORT}",
                               created_at=status.timestamp(deployment["metadata"].get("creationTimestamp")))

    def _endpoint_host(self, name: str) -> str:
        """In a pod, the Service's name in cluster DNS; elsewhere its cluster IP, which a node (this cluster's
        host, for one) reaches through kube-proxy's rules, while it cannot resolve the cluster's names."""
        if own_namespace() is not None:
            return manifests.endpoint_host(name, self.target)
        try:
            service = self._call(self.core.read_namespaced_service, manifests.service_name(name), self.namespace)
        except BackendError:
            return manifests.endpoint_host(name, self.target)
        return service["spec"].get("clusterIP") or manifests.endpoint_host(name, self.target)

    # --- quota -----------------------------------------------------------------------

    def _default_resources(self, resources: Resources) -> Resources:
        """`resources` as the namespace's LimitRange completes a container that names no CPU or memory."""
        from kubernetes.utils import parse_quantity

        for limit_range in self._call(self.core.list_namespaced_limit_range, self.namespace)["items"]:
            for limit in limit_range["spec"].get("limits") or []:
                defaults = limit.get("defaultRequest") or {}
                if limit.get("type") == "Container" and defaults:
                    cpu = float(parse_quantity(defaults["cpu"])) if "cpu" in defaults else None
                    memory = int(parse_quantity(defaults["memory"])) if "memory" in defaults else None
                    return Resources(cpu=resources.cpu if resources.cpu is not None else cpu,
                                     memory=resources.memory if resources.memory is not None else memory,
                                     gpus=resources.gpus)
        return resources

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
