"""Prometheus metrics under TF Serving's names, so its dashboards keep working.

Served at `/monitoring/prometheus/metrics`: requests per model, API and
status; request latency (microseconds, as TF Serving reports it); and the
size of each batch the batcher ran.
"""
from __future__ import annotations

import os

os.environ.setdefault("PROMETHEUS_DISABLE_CREATED_SERIES", "true")

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess  # noqa: E402

METRICS_PATH = "/monitoring/prometheus/metrics"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS_US = (100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServingMetrics:
    """The counters and histograms one server exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(":tensorflow:serving:request_count", "Requests, by model, API and status.",
                                 ["model_name", "entrypoint", "API", "status"], registry=self.registry)
        self._latency = Histogram(":tensorflow:serving:request_latency", "Request latency in microseconds.",
                                  ["model_name", "entrypoint", "API"], buckets=_LATENCY_BUCKETS_US,
                                  registry=self.registry)
        self._batch_size = Histogram(":tensorflow:serving:batching_session:processed_batch_size",
                                     "Rows in each batch run by the dynamic batcher.", buckets=_BATCH_BUCKETS,
                                     registry=self.registry)

    def record_request(self, model: str, entrypoint: str, api: str, status: str, seconds: float) -> None:
        self._requests.labels(model, entrypoint, api, status).inc()
        self._latency.labels(model, entrypoint, api).observe(seconds * 1e6)

    def record_batch(self, rows: int) -> None:
        self._batch_size.observe(rows)

    def page(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # REST workers: sum every process's files
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


# The calls that use the model, as the `API` label names them (REST verbs, gRPC methods); status and
# metadata calls (the sidebar's own, among them) are not traffic.
INFERENCE_APIS = frozenset({"predict", "classify", "regress", "Predict", "Classify", "Regress", "MultiInference"})


def traffic(page: str, model: str) -> dict[str, float | int | None]:
    """A model's inference requests, failed ones and their mean latency (ms), from a page of these metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    requests = errors = 0
    latency_sum = latency_count = 0.0
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.labels.get("model_name") != model or sample.labels.get("API") not in INFERENCE_APIS:
                continue
            if sample.name == ":tensorflow:serving:request_count_total" or (
                    sample.name == ":tensorflow:serving:request_count" and family.type != "counter"):
                requests += int(sample.value)
                errors += int(sample.value) if sample.labels.get("status") != "OK" else 0
            elif sample.name == ":tensorflow:serving:request_latency_sum":
                latency_sum += sample.value
            elif sample.name == ":tensorflow:serving:request_latency_count":
                latency_count += sample.value
    mean_ms = round(latency_sum / latency_count / 1000.0, 3) if latency_count else None
    return {"requests": requests, "errors": errors, "mean_latency_ms": mean_ms}
