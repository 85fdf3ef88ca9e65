"""The service's OpenAPI 3.1 document, written by hand and served at /openapi.json.

Hand-written rather than generated from the routes, because what clients need to know (every
error shape, which status means what, which limits apply) is exactly what route signatures do not
say. It is built per app so the limits and the security section are the ones that app enforces,
and tests/test_openapi.py checks the running app against it with schemathesis.
"""

from __future__ import annotations

import copy
from typing import Any

from cleaner.segment import MAX_HIDDEN, MAX_HIDDEN_CHARS
from cleaner.units import LABELS

ERROR_CODES = {
    400: "bad_request, invalid_json, invalid_record, missing_field, invalid_field",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large (body or batch), too_many_units, too_complex, deadline_exceeded",
    415: "unsupported_media_type",
    422: "empty_page, undecodable",
    500: "internal",
    503: "not_ready",
}
STATUS_TEXT = {
    400: "Malformed request",
    401: "Missing or wrong API key",
    404: "No such route",
    405: "Method not allowed on this route (the Allow header lists the allowed ones)",
    413: "Over a configured limit",
    415: "Unsupported Content-Type",
    422: "The page cannot be cleaned (empty, or not text)",
    500: "A bug on our side; the message carries no detail, the log does (by request id)",
    503: "Not ready to serve",
}

_REQUEST_ID_HEADER = {
    "description": "The request's id: the client's X-Request-ID when it was a plain token of "
    "at most 128 characters, else a generated one. Every log line of the request carries it.",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:/+=@-]{1,128}$"},
}

RESULT_KEYS = ["text", "title", "published", "kind", "model_version", "lines", "spans",
               "hidden"]
_SPAN = {
    "type": "object",
    "required": ["start", "end", "text", "label", "score"],
    "properties": {
        "start": {"type": "integer", "minimum": 0},
        "end": {"type": "integer", "minimum": 0},
        "text": {"type": "string"},
        "label": {"type": "string"},
        "score": {"type": "number"},
    },
    "additionalProperties": False,
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "description": "stable, machine-readable"},
                    "message": {"type": "string", "minLength": 1, "description": "for people"},
                },
                "additionalProperties": False,
            }
        },
        "additionalProperties": False,
    },
    "Span": _SPAN,
    "PageSpan": {
        **_SPAN,
        "required": ["index", *_SPAN["required"]],
        "properties": {"index": {"type": "integer", "minimum": 0}, **_SPAN["properties"]},
    },
    "Field": {
        "type": "object",
        "description": "One field of a separated line (`headline | keyword | date`), judged on "
                       "its own; `role` is `date` for the line's date (metadata).",
        "required": ["start", "end", "text", "label", "probabilities", "role"],
        "properties": {
            "start": {"type": "integer", "minimum": 0},
            "end": {"type": "integer", "minimum": 0},
            "text": {"type": "string"},
            "label": {"enum": list(LABELS)},
            "probabilities": {
                "type": "object",
                "required": list(LABELS),
                "properties": {lab: {"type": "number"} for lab in LABELS},
                "additionalProperties": False,
            },
            "role": {"type": ["string", "null"]},
        },
        "additionalProperties": False,
    },
    "Line": {
        "type": "object",
        "description": "The audit entry of one unit (a non-blank text line or an HTML block).",
        "required": ["index", "label", "probabilities", "text", "clean_text", "spans", "fields"],
        "properties": {
            "index": {"type": "integer", "minimum": 0},
            "label": {"enum": list(LABELS)},
            "probabilities": {
                "type": "object",
                "required": list(LABELS),
                "properties": {lab: {"type": "number"} for lab in LABELS},
                "additionalProperties": False,
            },
            "text": {"type": "string"},
            "clean_text": {"type": ["string", "null"], "description": "null: dropped"},
            "spans": {"type": "array", "items": {"$ref": "#/components/schemas/Span"}},
            "fields": {"type": "array", "items": {"$ref": "#/components/schemas/Field"}},
        },
        "additionalProperties": False,
    },
    "Result": {
        "type": "object",
        "required": RESULT_KEYS,
        "properties": {
            "text": {"type": "string", "description": "the sanitized article"},
            "title": {"type": ["string", "null"]},
            "published": {"type": ["string", "null"]},
            "kind": {"enum": ["text", "html"]},
            "model_version": {"type": "string"},
            "lines": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}},
            "spans": {"type": "array", "items": {"$ref": "#/components/schemas/PageSpan"}},
            "hidden": {"type": "array", "items": {"type": "string"},
                       "description": "HTML: text of the elements the page hides (hidden, "
                                      "aria-hidden, display:none or visibility:hidden), "
                                      f"never part of the article; at most {MAX_HIDDEN}, "
                                      f"each cut at {MAX_HIDDEN_CHARS:,} characters"},
        },
        "additionalProperties": False,
    },
    "Options": {
        "type": ["object", "null"],
        "properties": {"repair": {"type": "boolean"}},
        "additionalProperties": False,
    },
    "Page": {
        "type": "object",
        "description": "A page in exactly one of `text` and `html` (null counts as absent). "
        "Other fields (an id, a URL) are allowed and ignored.",
        "properties": {
            "text": {"type": ["string", "null"]},
            "html": {"type": ["string", "null"]},
            "options": {"$ref": "#/components/schemas/Options"},
        },
        "oneOf": [
            {"required": ["text"], "properties": {"text": {"type": "string"}}},
            {"required": ["html"], "properties": {"html": {"type": "string"}}},
        ],
    },
    "BatchResult": {
        "description": "One item's result, or its error in its place (`id` is the item's).",
        "oneOf": [
            {
                "type": "object",
                "required": ["id", "error", *RESULT_KEYS],
                "properties": {
                    "id": {},
                    "error": {"type": "null"},
                    "text": {"type": "string"},
                    "title": {"type": ["string", "null"]},
                    "published": {"type": ["string", "null"]},
                    "kind": {"enum": ["text", "html"]},
                    "model_version": {"type": "string"},
                    "lines": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}},
                    "spans": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/PageSpan"},
                    },
                },
                "additionalProperties": False,
            },
            {
                "type": "object",
                "required": ["id", "error"],
                "properties": {
                    "id": {},
                    "error": {"$ref": "#/components/schemas/Error/properties/error"},
                },
                "additionalProperties": False,
            },
        ],
    },
    "Status": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string"}, "model_version": {"type": "string"}},
    },
    "Manifest": {
        "type": "object",
        "description": "The loaded model's manifest (name, version, sha256, metrics, ...).",
        "required": ["sha256"],
        "properties": {"sha256": {"type": "string"}, "version": {"type": "string"}},
    },
}


def _error_response(status: int) -> dict[str, Any]:
    return {
        "description": f"{STATUS_TEXT[status]}. Codes: {ERROR_CODES[status]}.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_document(
    *, max_batch: int, max_body_bytes: int | None, auth: bool, version: str = "1.0.0"
) -> dict[str, Any]:
    """The document for an app with these limits; `auth` adds the API-key security scheme."""
    body_note = f" Bodies over {max_body_bytes} bytes get 413." if max_body_bytes else ""
    raw = {"type": "string", "description": "The page, as sent by its server." + body_note}
    clean_responses: dict[Any, Any] = {
        "200": {
            "description": "The cleaned page: JSON, or only the article with `format=text`.",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Result"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        },
        **{str(s): _error_response(s) for s in (400, 413, 415, 422, 500)},
    }
    bool_param = {
        "type": "string",
        "pattern": r"^(?i:\s*(1|0|true|false|yes|no|on|off)\s*)$",
    }
    paths: dict[str, Any] = {
        "/v1/clean": {
            "post": {
                "operationId": "clean",
                "summary": "Clean one page",
                "description": "Send the raw page as text/plain or text/html (the charset "
                "parameter is honoured, else the encoding is detected), or a JSON `Page`.",
                "parameters": [
                    {
                        "name": "format",
                        "in": "query",
                        "schema": {"enum": ["json", "text"], "default": "json"},
                    },
                    {
                        "name": "repair",
                        "in": "query",
                        "description": "Excise spam spans inside content lines (default true); "
                        "a JSON body's options.repair wins over it.",
                        "schema": bool_param,
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "text/plain": {"schema": raw},
                        "text/html": {"schema": raw},
                        "application/json": {"schema": {"$ref": "#/components/schemas/Page"}},
                    },
                },
                "responses": clean_responses,
            }
        },
        "/v1/clean/batch": {
            "post": {
                "operationId": "cleanBatch",
                "summary": "Clean a batch of pages, answered in order",
                "description": "Items that cannot be cleaned (not an object, no page, an empty "
                "page, over a limit, past the request's deadline) get an error in their place; "
                "the batch itself fails only when it is malformed or too long.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "array",
                                "maxItems": max_batch,
                                "description": "Pages; an item that is not one gets its "
                                "error in its place, so any JSON value is accepted as an item.",
                                "items": {"anyOf": [{"$ref": "#/components/schemas/Page"}, {}]},
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(
                        {"type": "array", "items": {"$ref": "#/components/schemas/BatchResult"}},
                        "One result per item, in order.",
                    ),
                    **{str(s): _error_response(s) for s in (400, 413, 415, 500)},
                },
            }
        },
        "/v1/model": {
            "get": {
                "operationId": "model",
                "summary": "The loaded model's manifest",
                "responses": {"200": _json({"$ref": "#/components/schemas/Manifest"}, "OK")},
            }
        },
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "Liveness: the process answers",
                "security": [],
                "responses": {"200": _json({"$ref": "#/components/schemas/Status"}, "Alive")},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "Readiness: the model is loaded and has cleaned a page",
                "security": [],
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Status"}, "Ready"),
                    "503": _error_response(503),
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics (all workers' values)",
                "responses": {
                    "200": {
                        "description": "Prometheus text exposition format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1 document")},
            }
        },
    }
    for path_item in paths.values():
        for op in path_item.values():
            responses = op["responses"]
            responses.setdefault("405", _error_response(405))
            if auth and op.get("security") != []:
                responses["401"] = {
                    **_error_response(401),
                    "headers": {
                        "WWW-Authenticate": {"schema": {"type": "string"}, "required": True}
                    },
                }
            for response in responses.values():
                response.setdefault("headers", {})["X-Request-ID"] = {
                    **_REQUEST_ID_HEADER,
                    "required": True,
                }
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "cleaner",
            "version": version,
            "description": "Labels every line of a scraped page content, boilerplate or spam, "
            "excises spam spliced into content, and returns the article with an audit. Every "
            "answer from the app is JSON (or text/plain when asked for); errors are "
            "`{\"error\": {\"code\", \"message\"}}`.",
        },
        "paths": paths,
        "components": {"schemas": copy.deepcopy(SCHEMAS)},
    }
    if auth:
        doc["components"]["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        }
        doc["security"] = [{"bearer": []}, {"apiKey": []}]
    return doc
