"""Prometheus text for `/metrics`: gauges computed from the store at scrape time."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from agentloop.core.types import RunStatus
from agentloop.engine.runtime import Runtime


def render_metrics(runtime: Runtime) -> tuple[bytes, str]:
    registry = CollectorRegistry()
    runs = Gauge("loopd_runs", "Runs by status", ["status"], registry=registry)
    counts = runtime.store.count_by_status()
    for status in RunStatus:
        runs.labels(status=status.value).set(counts.get(status, 0))
    Gauge("loopd_uptime_seconds", "Seconds since start", registry=registry).set(runtime.uptime_s)
    caps = runtime.queue.caps
    Gauge("loopd_max_concurrency", "Global run cap", registry=registry).set(caps.max_concurrency)
    return generate_latest(registry), CONTENT_TYPE_LATEST
