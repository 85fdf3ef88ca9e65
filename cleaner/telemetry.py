"""What the service says about itself: Prometheus metrics and one JSON log line per request.

Metrics work in both of the ways the service runs. In one process (the dev server, tests) each
app has its own registry. Under gunicorn every worker is a separate process with its own
counters, so a scrape that reached one worker would see a fraction of the traffic:
prometheus_client's multiprocess mode has each process write its values to files in
PROMETHEUS_MULTIPROC_DIR and aggregates them at scrape time. That mode is chosen when
prometheus_client is first imported, so the variable must be set before the app is (as
gunicorn.conf.py does); `multiprocess_dir()` tells which mode is live.

Logs are JSON objects, one per line, because they are read by log shippers, not people; every
record written during a request carries that request's id, the same id the client gets back in
X-Request-ID, so a client's complaint can be found in the logs.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import uuid
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import values as prometheus_values
from pythonjsonlogger.json import JsonFormatter

# Latency buckets (seconds) around what cleaning costs: ~5 ms for a short text page, ~40 ms for
# a 5 KB one, seconds for a 5 MB page or a large batch.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# A client-chosen request id is kept only if it is short and plain: it goes into every log line
# and a response header, where newlines or kilobytes of junk do not belong.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")


def multiprocess_dir() -> str | None:
    """The directory multiprocess metrics live in, when that mode is active in this process."""
    if prometheus_values.ValueClass is prometheus_values.MutexValue:
        return None
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get(
        "prometheus_multiproc_dir"
    )


class Metrics:
    """The service's metrics, registered in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "cleaner_http_requests",
            "HTTP requests answered, by endpoint, method and status",
            ["endpoint", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "cleaner_http_request_duration_seconds",
            "Time from reading the request to having the response, by endpoint",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "cleaner_errors",
            "Error answers (whole requests and batch items), by error code",
            ["code"],
            registry=r,
        )
        self.units = Counter(
            "cleaner_units", "Units (lines, HTML blocks) labelled, by label", ["label"], registry=r
        )
        self.pages = Counter("cleaner_pages", "Pages cleaned", registry=r)
        self.spam_pages = Counter(
            "cleaner_pages_with_spam",
            "Cleaned pages with at least one spam unit or excised spam span",
            registry=r,
        )
        self.in_flight = Gauge(
            "cleaner_http_requests_in_flight",
            "Requests being answered now",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.model = Gauge(
            "cleaner_model_info",
            "The loaded model (value 1), by name, version and sha256",
            ["name", "version", "sha256"],
            registry=r,
            multiprocess_mode="max",
        )

    def set_model(self, manifest: dict) -> None:
        self.model.labels(
            name=str(manifest.get("name", "unknown")),
            version=str(manifest.get("version", "unknown")),
            sha256=str(manifest.get("sha256", "unknown")),
        ).set(1)

    def observe_page(self, labels: Iterable[str], has_spam: bool) -> None:
        self.pages.inc()
        counts: dict[str, int] = {}
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
        for label, n in counts.items():
            self.units.labels(label=label).inc(n)
        if has_spam:
            self.spam_pages.inc()

    def exposition(self) -> tuple[bytes, str]:
        """The scrape body and its Content-Type; in multiprocess mode, every process's values."""
        if multiprocess_dir() is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST


def request_id(given: str | None) -> str:
    """The client's X-Request-ID when it is a plain token of at most 128 characters, else a
    fresh one (an id the client can quote back to us is the point, not any particular form)."""
    if given and _REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


class RequestJsonFormatter(JsonFormatter):
    """JSON lines: time, level, logger, message, the request id of the request being answered
    (when there is one), then any extra fields of the record."""

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        if "request_id" not in log_data:
            from flask import g, has_request_context

            if has_request_context() and g.get("request_id"):
                log_data["request_id"] = g.request_id


def json_formatter() -> logging.Formatter:
    """The formatter of every log line the service writes (gunicorn's included)."""
    return RequestJsonFormatter(
        "{asctime}{levelname}{name}{message}",
        style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
        json_ensure_ascii=False,
    )


def configure_logging(level: str | int = "INFO", stream: Any = None) -> None:
    """Send the `cleaner` loggers to stderr as JSON lines, unless the host (gunicorn's
    logconfig_dict, an embedding application) has given them a handler already.

    Records still propagate, so an embedding application's (or pytest's) handlers see them too.
    """
    logger = logging.getLogger("cleaner")
    logger.setLevel(level)
    if logger.handlers:
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(json_formatter())
    logger.addHandler(handler)
