"""HTTP service: cleaner over JSON, for pipelines that are not written in Python.

Production: ``cleaner serve`` (gunicorn with gunicorn.conf.py: the model loaded once before
forking, gthread workers). Development: ``cleaner serve --dev`` or ``python service.py``.

The model is loaded once when the app is created (with gunicorn's preload, once per server),
never per request: loading takes far longer than cleaning a page. Every response, errors
included, is JSON (or text/plain when asked), because clients are programs that parse bodies;
an HTML error page or a traceback would be both unparseable and a leak.

Endpoints: POST /v1/clean, POST /v1/clean/batch, GET /v1/model, GET /healthz, GET /readyz,
GET /metrics, GET /openapi.json (the contract, tested against this app with schemathesis).
Statuses: 400 malformed request, 401 missing API key (when one is configured), 413 over a
limit, 415 unsupported Content-Type, 422 a page that cannot be cleaned (empty, undecodable),
404/405 for wrong routes, 500 for our own failures, 503 not ready.

Configuration: `create_app(config)` keys, each also read from the environment (`ENV_VARS`) when
the key is not given, so that gunicorn's `service:create_app()` is configured by environment.
Which limit protects against what is written in docs/security.md.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from cleaner.batch import (
    CleanerLike,
    RecordError,
    clean_record,
    error_info,
    load_cleaner,
    parse_repair,
)
from cleaner.decode import decode, sniff_kind
from cleaner.errors import CleanerError
from cleaner.limits import Deadline, Limits, check_html, check_text, check_units
from cleaner.openapi import openapi_document
from cleaner.result import Result
from cleaner.segment import segment
from cleaner.telemetry import Metrics, configure_logging, request_id

log = logging.getLogger("cleaner.service")
access_log = logging.getLogger("cleaner.access")

_LIMITS = Limits()
DEFAULTS: dict[str, Any] = {
    "MODEL_PATH": None,  # None: the model shipped with the package
    "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,  # request body bytes (Flask's own setting)
    "MAX_BATCH": 100,  # items per batch
    "MAX_UNITS": _LIMITS.max_units,  # units (lines, blocks) per page
    "MAX_HTML_TAGS": _LIMITS.max_html_tags,
    "MAX_HTML_NESTING": _LIMITS.max_html_nesting,  # estimated sum of depths, see cleaner.limits
    "REQUEST_TIMEOUT": 30.0,  # seconds per request, checked between stages and batch items
    "HARD_TIMEOUT": 90.0,  # seconds after which a still-running request retires its worker
    "API_KEY": None,  # when set, every endpoint but /healthz and /readyz requires it
    "LOG_JSON": True,  # JSON lines on stderr for the `cleaner` loggers
    "LOG_LEVEL": "INFO",
    "WARMUP": True,  # clean one page at boot: readiness means "has cleaned a page"
    "CLEANER": None,  # an already-loaded Cleaner to reuse (tests, embedding)
}
ENV_VARS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "MODEL_PATH": ("CLEANER_MODEL_PATH", str),
    "MAX_CONTENT_LENGTH": ("CLEANER_MAX_BODY_BYTES", int),
    "MAX_BATCH": ("CLEANER_MAX_BATCH", int),
    "MAX_UNITS": ("CLEANER_MAX_UNITS", int),
    "MAX_HTML_TAGS": ("CLEANER_MAX_HTML_TAGS", int),
    "MAX_HTML_NESTING": ("CLEANER_MAX_HTML_NESTING", int),
    "REQUEST_TIMEOUT": ("CLEANER_REQUEST_TIMEOUT", float),
    "HARD_TIMEOUT": ("CLEANER_HARD_TIMEOUT", float),
    "API_KEY": ("CLEANER_API_KEY", str),
    "LOG_JSON": ("CLEANER_LOG_JSON", lambda v: v.strip().lower() not in ("0", "false", "no")),
    "LOG_LEVEL": ("CLEANER_LOG_LEVEL", str.upper),
}
# A page we could not clean is the client's data problem, not a malformed request.
STATUS_BY_CODE: dict[str, int] = {
    "invalid_json": 400,
    "invalid_record": 400,
    "missing_field": 400,
    "invalid_field": 400,
    "bad_request": 400,
    "unauthorized": 401,
    "empty_page": 422,
    "undecodable": 422,
    "too_large": 413,
    "too_many_units": 413,
    "too_complex": 413,
    "deadline_exceeded": 413,
    "unsupported_media_type": 415,
    "not_ready": 503,
}
# Stable machine codes for the HTTP errors Flask/Werkzeug raise on their own.
HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}
RAW_KINDS = {"text/plain": "text", "text/html": "html", "application/xhtml+xml": "html"}
JSON_TYPES = {"application/json"}
OPEN_ENDPOINTS = frozenset({"healthz", "readyz"})  # probes must work without the key
QUIET_ENDPOINTS = frozenset({"healthz", "readyz", "metrics"})  # logged at DEBUG only
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_SURROGATE = re.compile("[\ud800-\udfff]")
WARMUP_PAGE = (
    "Home | News | Contact\n\n"
    "The council approved the budget on Tuesday after a long debate about the bridge.\n"
)


def config_from_env(environ: dict[str, str] | os._Environ[str]) -> dict[str, Any]:
    """The settings given by environment variables; a malformed value fails the boot."""
    config: dict[str, Any] = {}
    for key, (var, parse) in ENV_VARS.items():
        value = environ.get(var)
        if value is None or value == "":
            continue
        try:
            config[key] = parse(value)
        except ValueError:
            raise ValueError(f"{var}={value!r} is not a valid value") from None
    key_file = environ.get("CLEANER_API_KEY_FILE")
    if key_file and "API_KEY" not in config:
        # A file (a mounted secret) keeps the key out of `ps` and the process environment.
        config["API_KEY"] = Path(key_file).read_text("utf-8").strip() or None
    return config


# --- cleaning behind the limits ------------------------------------------------------------------


class GuardedCleaner:
    """The app's cleaner behind the per-page limits and the request's deadline.

    Segmenting happens here rather than inside `Cleaner.clean`, so that a page's units can be
    counted after segmenting and before the model runs; stand-in cleaners without `clean_page`
    (tests) get the checks and then their own `clean`.
    """

    def __init__(self, inner: CleanerLike, limits: Limits, deadline: Deadline) -> None:
        self.inner = inner
        self.limits = limits
        self.deadline = deadline

    @property
    def manifest(self) -> dict:
        return self.inner.manifest

    def clean(
        self, text: str | None = None, html: str | None = None, *, repair: bool = True
    ) -> Result:
        if (text is None) == (html is None):
            raise ValueError("give exactly one of text= or html=")
        if text is not None:
            return self._clean(text, "text", repair)
        assert html is not None
        return self._clean(html, "html", repair)

    def clean_bytes(
        self,
        data: bytes,
        *,
        kind: str | None = None,
        charset: str | None = None,
        repair: bool = True,
    ) -> Result:
        self.deadline.check()
        raw = decode(data, charset)
        return self._clean(raw, kind or sniff_kind(raw), repair)

    def _clean(self, raw: str, kind: str, repair: bool) -> Result:
        self.deadline.check()
        if _SURROGATE.search(raw):
            # A JSON string may carry lone surrogates ("\ud800"), which no encoding can
            # write and which the feature stage would fail on: they become U+FFFD, as
            # undecodable bytes do.
            raw = _SURROGATE.sub("\ufffd", raw)
        if kind == "html":
            check_html(raw, self.limits)
        else:
            check_text(raw, self.limits)
        clean_page = getattr(self.inner, "clean_page", None)
        if clean_page is None:
            return self.inner.clean(**{kind: raw}, repair=repair)
        page = segment(raw, kind)
        check_units(len(page.units), self.limits)
        self.deadline.check()
        return clean_page(page, repair)


def _limits(config: dict[str, Any]) -> Limits:
    return Limits(
        max_units=int(config["MAX_UNITS"]),
        max_html_tags=int(config["MAX_HTML_TAGS"]),
        max_html_nesting=int(config["MAX_HTML_NESTING"]),
    )


def _cleaner() -> GuardedCleaner:
    """This request's cleaner: the shared model, the app's limits, a fresh deadline."""
    if "cleaner" not in g:
        app = current_app
        g.cleaner = GuardedCleaner(
            app.extensions["cleaner"],
            app.extensions["cleaner_limits"],
            Deadline(app.config["REQUEST_TIMEOUT"]),
        )
    return g.cleaner


def _metrics() -> Metrics:
    return current_app.extensions["cleaner_metrics"]


def _observe(result: Result) -> None:
    """Count a cleaned page in the metrics and in this request's log line."""
    labels = [ln.label for ln in result.lines]
    has_spam = any(ln.label == "spam" or ln.spans for ln in result.lines)
    _metrics().observe_page(labels, has_spam)
    g.units = g.get("units", 0) + len(labels)
    g.pages = g.get("pages", 0) + 1


# --- endpoints ------------------------------------------------------------------------------------


def _error(code: str, message: str, status: int) -> Response:
    g.error_code = code
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def _bool_arg(name: str) -> bool | None:
    """A boolean query parameter (`?repair=false`) for bodies that cannot carry options."""
    value = request.args.get(name)
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise RecordError("bad_request", f"query parameter {name!r} must be true or false")


def _json_body() -> Any:
    """The parsed JSON body; JSON is UTF-8 by its RFC, so a charset parameter is not consulted."""
    try:
        return json.loads(request.get_data(cache=False))
    except (ValueError, UnicodeDecodeError) as exc:
        raise RecordError("invalid_json", f"the body is not valid JSON: {exc}") from None
    except RecursionError:  # "[[[[...": json recurses per level
        raise RecordError("invalid_json", "the body nests JSON too deeply") from None


def _require_json() -> None:
    if request.mimetype not in JSON_TYPES:
        raise RecordError(
            "unsupported_media_type",
            f"Content-Type {request.mimetype or '(none)'!r} is not supported; "
            "send application/json",
        )


def clean_request() -> Response:
    """POST /v1/clean: one page as text/plain, text/html or a JSON object."""
    output = request.args.get("format", "json")
    if output not in ("json", "text"):
        raise RecordError("bad_request", "query parameter 'format' must be 'json' or 'text'")
    repair_arg = _bool_arg("repair")
    mimetype = request.mimetype
    if mimetype in RAW_KINDS:
        result = _cleaner().clean_bytes(
            request.get_data(cache=False),
            kind=RAW_KINDS[mimetype],
            charset=request.mimetype_params.get("charset"),
            repair=True if repair_arg is None else repair_arg,
        )
    elif mimetype in JSON_TYPES:
        body = _json_body()
        if not isinstance(body, dict):
            raise RecordError("invalid_record", "the body must be a JSON object")
        repair = parse_repair(body.get("options"), True if repair_arg is None else repair_arg)
        result = clean_record(_cleaner(), body, repair=repair)
    else:
        raise RecordError(
            "unsupported_media_type",
            f"Content-Type {mimetype or '(none)'!r} is not supported; send text/plain, "
            "text/html or application/json",
        )
    _observe(result)
    if output == "text":
        return Response(result.text, content_type="text/plain; charset=utf-8")
    return jsonify(result.to_dict())


def _batch_item(cleaner: GuardedCleaner, item: Any) -> dict[str, Any]:
    """One item's result, or its error in its place: one bad page must not fail the batch."""
    item_id = item.get("id") if isinstance(item, dict) else None
    try:
        if not isinstance(item, dict):
            raise RecordError("invalid_record", "each item must be a JSON object")
        result = clean_record(cleaner, item, repair=parse_repair(item.get("options")))
    except CleanerError as exc:
        info = error_info(exc)
        _metrics().errors.labels(code=info["code"]).inc()
        return {"id": item_id, "error": info}
    except Exception:  # a bug on one page: log it, report it in place, keep the others
        log.exception("cleaning batch item %r failed", item_id)
        _metrics().errors.labels(code="internal").inc()
        return {"id": item_id, "error": {"code": "internal", "message": "internal error"}}
    _observe(result)
    return {"id": item_id, **result.to_dict(), "error": None}


def clean_batch_request() -> Response:
    """POST /v1/clean/batch: a JSON array of items, answered by an array in the same order.

    The request's deadline covers the whole batch: items it does not reach get a
    `deadline_exceeded` error in their place, so the client can resend exactly those.
    """
    _require_json()
    body = _json_body()
    if not isinstance(body, list):
        raise RecordError("invalid_record", "the body must be a JSON array of items")
    limit = current_app.config["MAX_BATCH"]
    if len(body) > limit:
        raise RecordError("too_large", f"{len(body)} items; at most {limit} per batch")
    cleaner = _cleaner()
    return jsonify([_batch_item(cleaner, item) for item in body])


# --- the watchdog: the last resort ------------------------------------------------------------


class Watchdog:
    """Retires a worker process in which a request has run far past any limit.

    A thread cannot be killed, and gunicorn's `timeout` does not help with gthread workers: the
    worker's main thread keeps sending heartbeats while a request thread is stuck. The limits
    make a stuck request a bug, not an input; if one happens anyway this stops the worker from
    taking new connections (SIGTERM: gunicorn's graceful stop, its other requests finish) and
    the master starts a fresh one, so capacity is never silently lost.
    """

    def __init__(self, limit: float, retire: Callable[[], None] | None = None) -> None:
        self.limit = limit
        self.retire = retire or _retire_process
        self._running: dict[int, tuple[float, str]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.fired = False

    def begin(self, rid: str) -> None:
        with self._lock:
            self._running[threading.get_ident()] = (time.monotonic(), rid)

    def end(self) -> None:
        with self._lock:
            self._running.pop(threading.get_ident(), None)

    def check(self, now: float | None = None) -> list[str]:
        """Request ids over the limit; retires the process (once) when there are any."""
        now = time.monotonic() if now is None else now
        with self._lock:
            stuck = [rid for start, rid in self._running.values() if now - start > self.limit]
        if stuck and not self.fired:
            self.fired = True
            log.critical(
                "requests running over %.0f s: %s; retiring this worker",
                self.limit,
                ", ".join(stuck),
                extra={"stuck_requests": stuck},
            )
            self.retire()
        return stuck

    def start(self, interval: float = 1.0) -> None:
        """Watch from a daemon thread (gunicorn.conf.py starts one in every worker)."""
        if self._thread is not None or not self.limit:
            return

        def loop() -> None:
            while not self.fired:
                time.sleep(interval)
                self.check()

        self._thread = threading.Thread(target=loop, name="cleaner-watchdog", daemon=True)
        self._thread.start()


def _retire_process(grace: float = 30.0) -> None:
    """Graceful stop of this gunicorn worker; a hard exit if it has not ended after `grace`."""
    os.kill(os.getpid(), signal.SIGTERM)
    timer = threading.Timer(grace, os._exit, args=(70,))
    timer.daemon = True
    timer.start()


# --- the app ----------------------------------------------------------------------------------


def _presented_key() -> str | None:
    auth = request.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("X-API-Key")


def _authorized(expected: bytes) -> bool:
    given = _presented_key()
    # compare_digest: the time taken must not tell how much of a guess was right.
    return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"), expected)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app and load its model (raises `ModelError` so a bad deploy fails at boot)."""
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    given = config or {}
    app.config.update({k: v for k, v in config_from_env(os.environ).items() if k not in given})
    app.config.update(given)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # articles are rarely ASCII
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep Result.to_dict()'s order
    if app.config["LOG_JSON"]:
        configure_logging(app.config["LOG_LEVEL"])

    cleaner = app.config["CLEANER"] or load_cleaner(app.config["MODEL_PATH"])
    app.extensions["cleaner"] = cleaner
    app.extensions["cleaner_limits"] = _limits(app.config)
    metrics = Metrics()
    metrics.set_model(cleaner.manifest)
    app.extensions["cleaner_metrics"] = metrics
    watchdog = Watchdog(float(app.config["HARD_TIMEOUT"] or 0))
    app.extensions["cleaner_watchdog"] = watchdog
    api_key = app.config["API_KEY"] or None
    expected_key = api_key.encode("utf-8") if api_key else None
    if expected_key is None:
        log.warning("no API key configured (CLEANER_API_KEY): every endpoint is open")
    document = openapi_document(
        max_batch=int(app.config["MAX_BATCH"]),
        max_body_bytes=app.config["MAX_CONTENT_LENGTH"],
        auth=expected_key is not None,
    )

    app.add_url_rule("/v1/clean", "clean", clean_request, methods=["POST"])
    app.add_url_rule("/v1/clean/batch", "clean_batch", clean_batch_request, methods=["POST"])

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    def readyz() -> Response:
        if not app.extensions.get("cleaner_ready"):
            return _error("not_ready", "the model has not cleaned its warm-up page", 503)
        return jsonify({"status": "ready", "model_version": str(cleaner.manifest.get("version"))})

    @app.get("/v1/model")
    def model() -> Response:
        return jsonify(cleaner.manifest)

    @app.get("/metrics")
    def metrics_view() -> Response:
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type)

    @app.get("/openapi.json")
    def openapi() -> Response:
        return jsonify(document)

    @app.before_request
    def begin() -> Response | None:
        g.start = time.perf_counter()
        g.request_id = request_id(request.headers.get("X-Request-ID"))
        metrics.in_flight.inc()
        g.in_flight = True
        watchdog.begin(g.request_id)
        if expected_key is not None and request.endpoint not in OPEN_ENDPOINTS:
            if not _authorized(expected_key):
                response = _error(
                    "unauthorized",
                    "this endpoint needs the API key: 'Authorization: Bearer <key>' "
                    "or 'X-API-Key: <key>'",
                    401,
                )
                response.headers["WWW-Authenticate"] = 'Bearer realm="cleaner"'
                return response
        return None

    @app.after_request
    def finish(response: Response) -> Response:
        rid = g.get("request_id") or request_id(None)
        response.headers["X-Request-ID"] = rid
        rule = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
        method = request.method if request.method in METHODS else "OTHER"
        elapsed = time.perf_counter() - g.get("start", time.perf_counter())
        metrics.requests.labels(endpoint=rule, method=method, status=response.status_code).inc()
        metrics.latency.labels(endpoint=rule).observe(elapsed)
        code = g.get("error_code")
        if code:
            metrics.errors.labels(code=code).inc()
        level = logging.DEBUG if request.endpoint in QUIET_ENDPOINTS else logging.INFO
        if access_log.isEnabledFor(level):
            access_log.log(
                level,
                "request",
                extra={
                    "request_id": rid,
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 2),
                    "bytes_in": request.content_length,
                    "units": g.get("units", 0),
                    "pages": g.get("pages", 0),
                    "error": code,
                    "remote_addr": request.remote_addr,
                },
            )
        return response

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        if g.pop("in_flight", False):
            metrics.in_flight.dec()
        watchdog.end()

    @app.errorhandler(CleanerError)
    def cleaner_error(exc: CleanerError) -> Response:
        status = STATUS_BY_CODE.get(exc.code, 500)
        if status == 500:
            log.error("cleaner error: %s", exc)
        info = error_info(exc)
        return _error(info["code"], info["message"], status)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = HTTP_CODES.get(status) or (exc.name or "error").lower().replace(" ", "_")
        g.error_code = code
        response = exc.get_response()  # keeps headers such as Allow on a 405
        response.set_data(
            app.json.dumps({"error": {"code": code, "message": exc.description or exc.name}})
        )
        response.content_type = "application/json"
        return response

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error("internal", "internal server error", 500)

    if app.config["WARMUP"]:
        # One real page through the real path: a model that loads but cannot predict (a
        # feature mismatch, a broken native library) fails the boot, not the first client.
        with app.test_request_context("/v1/clean", method="POST"):
            _cleaner().clean(text=WARMUP_PAGE)
    app.extensions["cleaner_ready"] = True
    return app


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="cleaner HTTP service (development server)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    create_app({"MODEL_PATH": args.model}).run(host=args.host, port=args.port, threaded=True)
