"""HTTP service: cleaner over JSON, for pipelines that are not written in Python.

Production: ``gunicorn -c gunicorn.conf.py 'service:create_app()'`` (see gunicorn.conf.py).
Development: ``python service.py`` or ``cleaner serve``.

The model is loaded once when the app is created (with gunicorn's preload, once per server),
never per request: loading takes far longer than cleaning a page. Every response, errors
included, is JSON (or text/plain when asked), because clients are programs that parse bodies;
an HTML error page or a traceback would be both unparseable and a leak.

Endpoints: POST /v1/clean, POST /v1/clean/batch, GET /v1/model, GET /healthz.
Statuses: 400 malformed request, 413 too large, 415 unsupported Content-Type, 422 a page that
cannot be cleaned (empty, undecodable), 404/405 for wrong routes, 500 for our own failures.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from cleaner.batch import (
    CleanerLike,
    RecordError,
    clean_record,
    error_info,
    load_cleaner,
    parse_repair,
)
from cleaner.errors import CleanerError

log = logging.getLogger("cleaner.service")

DEFAULTS: dict[str, Any] = {
    "MODEL_PATH": None,  # None: the model shipped with the package
    "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
    "MAX_BATCH": 100,
    "CLEANER": None,  # an already-loaded Cleaner to reuse (tests, embedding)
}
# A page we could not clean is the client's data problem, not a malformed request.
STATUS_BY_CODE: dict[str, int] = {
    "invalid_json": 400,
    "invalid_record": 400,
    "missing_field": 400,
    "invalid_field": 400,
    "bad_request": 400,
    "empty_page": 422,
    "undecodable": 422,
    "too_large": 413,
    "unsupported_media_type": 415,
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


def _error(code: str, message: str, status: int) -> Response:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def _cleaner() -> CleanerLike:
    return current_app.extensions["cleaner"]


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
    if output == "text":
        return Response(result.text, content_type="text/plain; charset=utf-8")
    return jsonify(result.to_dict())


def _batch_item(cleaner: CleanerLike, item: Any) -> dict[str, Any]:
    """One item's result, or its error in its place: one bad page must not fail the batch."""
    item_id = item.get("id") if isinstance(item, dict) else None
    try:
        if not isinstance(item, dict):
            raise RecordError("invalid_record", "each item must be a JSON object")
        result = clean_record(cleaner, item, repair=parse_repair(item.get("options")))
    except CleanerError as exc:
        return {"id": item_id, "error": error_info(exc)}
    except Exception:  # a bug on one page: log it, report it in place, keep the others
        log.exception("cleaning batch item %r failed", item_id)
        return {"id": item_id, "error": {"code": "internal", "message": "internal error"}}
    return {"id": item_id, **result.to_dict(), "error": None}


def clean_batch_request() -> Response:
    """POST /v1/clean/batch: a JSON array of items, answered by an array in the same order."""
    _require_json()
    body = _json_body()
    if not isinstance(body, list):
        raise RecordError("invalid_record", "the body must be a JSON array of items")
    limit = current_app.config["MAX_BATCH"]
    if len(body) > limit:
        raise RecordError("too_large", f"{len(body)} items; at most {limit} per batch")
    cleaner = _cleaner()
    return jsonify([_batch_item(cleaner, item) for item in body])


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app and load its model (raises `ModelError` so a bad deploy fails at boot)."""
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config.update(config or {})
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # articles are rarely ASCII
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep Result.to_dict()'s order
    app.extensions["cleaner"] = app.config["CLEANER"] or load_cleaner(app.config["MODEL_PATH"])

    app.add_url_rule("/v1/clean", "clean", clean_request, methods=["POST"])
    app.add_url_rule("/v1/clean/batch", "clean_batch", clean_batch_request, methods=["POST"])

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/v1/model")
    def model() -> Response:
        return jsonify(_cleaner().manifest)

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

    return app


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="cleaner HTTP service (development server)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    create_app({"MODEL_PATH": args.model}).run(host=args.host, port=args.port, threaded=True)
