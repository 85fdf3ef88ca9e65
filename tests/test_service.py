"""The HTTP service, through Flask's test client, against the shipped model."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cleaner.errors import ModelError
from cleaner.units import LABELS
from service import Watchdog, create_app

ARTICLE = (
    "The city council approved the new budget on Tuesday after a long debate about the cost "
    "of repairing the old bridge, which engineers say has reached the end of its service life."
)
PAGE = f"Home | News | Sport | Contact\n\n{ARTICLE}\n\nCopyright 2024. All rights reserved.\n"
HTML = (
    "<html><head><title>Budget</title></head><body><nav><a href='/'>Home</a></nav>"
    f"<article><h1>Budget approved</h1><p>{ARTICLE}</p></article></body></html>"
)
RESULT_KEYS = {"text", "title", "published", "kind", "model_version", "lines", "spans"}


# Explicit settings, so that a CLEANER_* variable in the developer's shell cannot leak in.
BASE = {"API_KEY": None, "WARMUP": False}


@pytest.fixture()
def app(real_cleaner: Any) -> Flask:
    return create_app({**BASE, "CLEANER": real_cleaner, "MAX_BATCH": 5})


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert set(error) == {"code", "message"} and error["message"]
    if code is not None:
        assert error["code"] == code
    assert "Traceback" not in response.get_data(as_text=True)
    return error


def assert_audited(data: dict[str, Any]) -> None:
    """The article line is in the audit and the text is exactly the kept lines, whatever the
    model decides about this short page (it is retrained; labels of short pages move)."""
    assert any(ln["text"] == ARTICLE for ln in data["lines"])
    kept = [ln["clean_text"] for ln in data["lines"] if ln["clean_text"]]
    assert data["text"] == "\n\n".join(kept)


# --- app creation ------------------------------------------------------------------------------


def test_create_app_loads_the_shipped_model() -> None:
    client = create_app({"API_KEY": None}).test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    assert client.get("/v1/model").status_code == 200


def test_create_app_with_bad_model_fails_at_boot(tmp_path: Any) -> None:
    bogus = tmp_path / "model.joblib"
    bogus.write_bytes(b"not a model")
    with pytest.raises(ModelError):
        create_app({"MODEL_PATH": str(bogus)})


# --- GET endpoints -----------------------------------------------------------------------------


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_model_manifest(client: FlaskClient, real_cleaner: Any) -> None:
    response = client.get("/v1/model")
    assert response.status_code == 200
    manifest = response.get_json()
    assert manifest == json.loads(json.dumps(real_cleaner.manifest))
    assert "version" in manifest


# --- POST /v1/clean ------------------------------------------------------------------------------


def test_clean_text_plain(client: FlaskClient) -> None:
    response = client.post("/v1/clean", data=PAGE.encode(), content_type="text/plain")
    assert response.status_code == 200
    data = response.get_json()
    assert RESULT_KEYS <= set(data)
    assert data["kind"] == "text"
    assert [ln["index"] for ln in data["lines"]] == [0, 2, 4]
    assert all(ln["label"] in LABELS for ln in data["lines"])
    assert_audited(data)


def test_clean_html(client: FlaskClient) -> None:
    response = client.post("/v1/clean", data=HTML.encode(), content_type="text/html; charset=utf-8")
    assert response.status_code == 200
    data = response.get_json()
    assert data["kind"] == "html"
    assert_audited(data)


def test_clean_json_body(client: FlaskClient) -> None:
    for body, kind in (({"text": PAGE}, "text"), ({"html": HTML}, "html")):
        response = client.post("/v1/clean", json=body)
        assert response.status_code == 200
        assert response.get_json()["kind"] == kind


def test_clean_json_matches_text_plain(client: FlaskClient) -> None:
    # One code path: the same page gives the same result however it is sent.
    a = client.post("/v1/clean", json={"text": PAGE}).get_json()
    b = client.post("/v1/clean", data=PAGE.encode(), content_type="text/plain").get_json()
    assert a == b


def test_clean_repair_option(client: FlaskClient) -> None:
    response = client.post("/v1/clean", json={"text": PAGE, "options": {"repair": False}})
    assert response.status_code == 200
    response = client.post("/v1/clean?repair=false", data=PAGE.encode(), content_type="text/plain")
    assert response.status_code == 200


def test_clean_format_text(client: FlaskClient) -> None:
    full = client.post("/v1/clean", json={"text": PAGE}).get_json()
    response = client.post("/v1/clean?format=text", json={"text": PAGE})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.mimetype_params.get("charset") == "utf-8"
    assert response.get_data(as_text=True) == full["text"]


def test_charset_is_honoured(client: FlaskClient) -> None:
    page = f"Café crème brûlée à la française, naïve façade.\n\n{ARTICLE}\n"
    response = client.post(
        "/v1/clean",
        data=page.encode("iso-8859-1"),
        content_type="text/plain; charset=iso-8859-1",
    )
    assert response.status_code == 200
    lines = response.get_json()["lines"]
    assert lines[0]["text"] == "Café crème brûlée à la française, naïve façade."


def test_html_charset_is_honoured(client: FlaskClient) -> None:
    html = f"<html><body><h1>Привет, мир</h1><p>{ARTICLE}</p></body></html>"
    response = client.post(
        "/v1/clean", data=html.encode("cp1251"), content_type="text/html; charset=windows-1251"
    )
    assert response.status_code == 200
    assert any("Привет, мир" in ln["text"] for ln in response.get_json()["lines"])


def test_unicode_is_not_escaped(client: FlaskClient) -> None:
    response = client.post("/v1/clean", json={"text": f"Grüße aus Köln\n\n{ARTICLE}"})
    assert "Grüße".encode() in response.get_data()


# --- POST /v1/clean/batch ----------------------------------------------------------------------


def test_batch_in_order_with_errors_in_place(client: FlaskClient) -> None:
    items = [
        {"id": 1, "text": PAGE},
        {"id": 2, "text": ""},
        {"id": 3},
        {"id": 4, "html": HTML, "options": {"repair": False}},
        "not an object",
    ]
    response = client.post("/v1/clean/batch", json=items)
    assert response.status_code == 200
    out = response.get_json()
    assert [r["id"] for r in out] == [1, 2, 3, 4, None]
    assert [r["error"] and r["error"]["code"] for r in out] == [
        None,
        "empty_page",
        "missing_field",
        None,
        "invalid_record",
    ]
    assert RESULT_KEYS <= set(out[0])
    assert_audited(out[0])
    assert out[3]["kind"] == "html"


def test_batch_empty_array(client: FlaskClient) -> None:
    response = client.post("/v1/clean/batch", json=[])
    assert response.status_code == 200
    assert response.get_json() == []


def test_batch_too_many_items(client: FlaskClient) -> None:
    response = client.post("/v1/clean/batch", json=[{"text": PAGE}] * 6)
    assert_error(response, 413, "too_large")


def test_batch_not_an_array(client: FlaskClient) -> None:
    assert_error(client.post("/v1/clean/batch", json={"text": PAGE}), 400)


def test_batch_requires_json(client: FlaskClient) -> None:
    response = client.post("/v1/clean/batch", data=PAGE, content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")


# --- errors ------------------------------------------------------------------------------------


def test_malformed_json(client: FlaskClient) -> None:
    response = client.post("/v1/clean", data=b'{"text": ', content_type="application/json")
    assert_error(response, 400, "invalid_json")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "missing_field"),
        ({"url": "https://example.com"}, "missing_field"),
        ({"text": 5}, "invalid_field"),
        ({"html": ["<p>"]}, "invalid_field"),
        ({"text": PAGE, "html": HTML}, "invalid_record"),
        ({"text": PAGE, "options": {"repair": "no"}}, "invalid_field"),
        ({"text": PAGE, "options": []}, "invalid_field"),
        ({"text": PAGE, "options": {"bogus": True}}, "invalid_field"),
        ([PAGE], "invalid_record"),
        ("just a string", "invalid_record"),
    ],
)
def test_bad_requests(client: FlaskClient, body: Any, code: str) -> None:
    assert_error(client.post("/v1/clean", json=body), 400, code)


@pytest.mark.parametrize("query", ["format=xml", "repair=maybe"])
def test_bad_query(client: FlaskClient, query: str) -> None:
    assert_error(client.post(f"/v1/clean?{query}", json={"text": PAGE}), 400)


def test_too_large(real_cleaner: Any) -> None:
    app = create_app({**BASE, "CLEANER": real_cleaner, "MAX_CONTENT_LENGTH": 1000})
    client = app.test_client()
    response = client.post("/v1/clean", data=b"x" * 2000, content_type="text/plain")
    assert_error(response, 413, "too_large")


@pytest.mark.parametrize("content_type", ["application/xml", "application/octet-stream", None])
def test_unsupported_media_type(client: FlaskClient, content_type: str | None) -> None:
    response = client.post("/v1/clean", data=b"hello", content_type=content_type)
    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"", "text/plain"),
        (b"   \n\n  ", "text/plain"),
        (b"<html><body>   </body></html>", "text/html"),
        (json.dumps({"text": "  \n "}).encode(), "application/json"),
    ],
)
def test_empty_page(client: FlaskClient, data: bytes, content_type: str) -> None:
    assert_error(client.post("/v1/clean", data=data, content_type=content_type), 422, "empty_page")


def test_undecodable_page(client: FlaskClient) -> None:
    response = client.post("/v1/clean", data=bytes(500), content_type="text/plain")
    assert_error(response, 422, "undecodable")


def test_not_found(client: FlaskClient) -> None:
    assert_error(client.get("/nope"), 404, "not_found")


def test_method_not_allowed(client: FlaskClient) -> None:
    response = client.get("/v1/clean")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]
    assert_error(client.post("/healthz"), 405)


class Broken:
    """A cleaner with a bug: the service must answer JSON 500, never a traceback."""

    manifest: dict = {"version": "broken"}

    def clean(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internal detail")

    clean_bytes = clean


def test_internal_error_is_json(caplog: pytest.LogCaptureFixture) -> None:
    client = create_app({**BASE, "CLEANER": Broken()}).test_client()
    response = client.post("/v1/clean", data=PAGE.encode(), content_type="text/plain")
    error = assert_error(response, 500, "internal")
    assert "secret" not in error["message"]
    assert "secret internal detail" in caplog.text  # logged for the operator


def test_internal_error_in_batch_is_in_place() -> None:
    client = create_app({**BASE, "CLEANER": Broken()}).test_client()
    response = client.post("/v1/clean/batch", json=[{"id": "x", "text": PAGE}])
    assert response.status_code == 200
    assert response.get_json() == [
        {"id": "x", "error": {"code": "internal", "message": "internal error"}}
    ]


def test_a_cleaner_that_cannot_clean_fails_the_boot() -> None:
    # The warm-up page goes through the real path: a broken model must not start serving.
    with pytest.raises(RuntimeError):
        create_app({"API_KEY": None, "CLEANER": Broken()})


# --- readiness, request ids, logs --------------------------------------------------------------


def test_readyz(client: FlaskClient, real_cleaner: Any) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ready",
        "model_version": str(real_cleaner.manifest["version"]),
    }


def test_request_id_is_echoed_or_generated(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "batch-42.item:7"})
    assert response.headers["X-Request-ID"] == "batch-42.item:7"
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 32 and generated != client.get("/healthz").headers["X-Request-ID"]


@pytest.mark.parametrize("bad", ["x" * 129, "two words", "new\\nline", "é", ""])
def test_unsafe_request_id_is_replaced(client: FlaskClient, bad: str) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": bad})
    assert response.headers["X-Request-ID"] != bad
    assert len(response.headers["X-Request-ID"]) == 32


def test_error_responses_carry_the_request_id(client: FlaskClient) -> None:
    response = client.post("/v1/clean", data=b"{", content_type="application/json",
                           headers={"X-Request-ID": "abc"})
    assert response.status_code == 400 and response.headers["X-Request-ID"] == "abc"
    assert client.get("/nope", headers={"X-Request-ID": "def"}).headers["X-Request-ID"] == "def"


def test_one_json_log_line_per_request(real_cleaner: Any) -> None:
    import io
    import logging

    from cleaner.telemetry import json_formatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    access = logging.getLogger("cleaner.access")
    access.addHandler(handler)
    try:
        client = create_app({**BASE, "CLEANER": real_cleaner}).test_client()
        client.post("/v1/clean", data=PAGE.encode(), content_type="text/plain",
                    headers={"X-Request-ID": "req-1"})
        client.post("/v1/clean", data=b"", content_type="text/plain")
    finally:
        access.removeHandler(handler)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(records) == 2
    ok, empty = records
    assert {"time", "level", "logger", "message"} <= set(ok)
    assert ok["request_id"] == "req-1" and ok["method"] == "POST" and ok["path"] == "/v1/clean"
    assert ok["status"] == 200 and ok["units"] == 3 and ok["duration_ms"] > 0
    assert empty["status"] == 422 and empty["error"] == "empty_page" and empty["units"] == 0


# --- API key -----------------------------------------------------------------------------------


@pytest.fixture()
def locked(real_cleaner: Any) -> FlaskClient:
    return create_app({**BASE, "CLEANER": real_cleaner, "API_KEY": "s3cret-key"}).test_client()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"X-API-Key": "s3cret-ke"},
     {"Authorization": "Basic czNjcmV0LWtleQ=="}, {"Authorization": "Bearer "}],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/v1/clean"), ("post", "/v1/clean/batch"), ("get", "/v1/model"),
     ("get", "/metrics"), ("get", "/openapi.json"), ("get", "/nope")],
)
def test_api_key_is_required(
    locked: FlaskClient, headers: dict[str, str], method: str, path: str
) -> None:
    response = getattr(locked, method)(path, headers=headers, json={"text": PAGE})
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "headers", [{"Authorization": "Bearer s3cret-key"}, {"authorization": "bearer s3cret-key"},
                {"X-API-Key": "s3cret-key"}]
)
def test_api_key_lets_in(locked: FlaskClient, headers: dict[str, str]) -> None:
    assert locked.post("/v1/clean", json={"text": PAGE}, headers=headers).status_code == 200
    assert locked.get("/v1/model", headers=headers).status_code == 200


def test_probes_need_no_api_key(locked: FlaskClient) -> None:
    assert locked.get("/healthz").status_code == 200
    assert locked.get("/readyz").status_code == 200


def test_api_key_from_environment_and_file(
    real_cleaner: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("CLEANER_API_KEY", "from-env")
    client = create_app({"CLEANER": real_cleaner, "WARMUP": False}).test_client()
    assert client.get("/v1/model").status_code == 401
    assert client.get("/v1/model", headers={"X-API-Key": "from-env"}).status_code == 200
    monkeypatch.delenv("CLEANER_API_KEY")
    secret = tmp_path / "key"
    secret.write_text("from-file\n")
    monkeypatch.setenv("CLEANER_API_KEY_FILE", str(secret))
    client = create_app({"CLEANER": real_cleaner, "WARMUP": False}).test_client()
    assert client.get("/v1/model", headers={"X-API-Key": "from-file"}).status_code == 200


def test_openapi_declares_the_security_only_when_a_key_is_set(
    client: FlaskClient, locked: FlaskClient
) -> None:
    assert "security" not in client.get("/openapi.json").get_json()
    doc = locked.get("/openapi.json", headers={"X-API-Key": "s3cret-key"}).get_json()
    assert doc["security"] and doc["paths"]["/healthz"]["get"]["security"] == []


# --- metrics -----------------------------------------------------------------------------------


def _sample(text: str, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def test_metrics(client: FlaskClient, real_cleaner: Any) -> None:
    client.post("/v1/clean", data=PAGE.encode(), content_type="text/plain")
    client.post("/v1/clean/batch", json=[{"text": PAGE}, {"text": ""}])
    client.post("/v1/clean", data=b"", content_type="text/plain")
    client.get("/no/such/page/1")
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert _sample(text, "cleaner_http_requests_total", endpoint="/v1/clean", method="POST",
                   status="200") == 1
    assert _sample(text, "cleaner_http_requests_total", endpoint="/v1/clean", status="422") == 1
    assert _sample(text, "cleaner_http_requests_total", endpoint="(unmatched)",
                   status="404") == 1  # not one series per unknown path
    assert _sample(text, "cleaner_http_request_duration_seconds_count",
                   endpoint="/v1/clean") == 2
    assert _sample(text, "cleaner_pages_total") == 2
    units = sum(_sample(text, "cleaner_units_total", label=lab) for lab in LABELS)
    assert units == 6
    assert _sample(text, "cleaner_errors_total", code="empty_page") == 2  # request and item
    spam = _sample(text, "cleaner_pages_with_spam_total")
    assert 0 <= spam <= 2
    assert _sample(text, "cleaner_model_info", version=str(real_cleaner.manifest["version"]),
                   sha256=real_cleaner.manifest["sha256"]) == 1
    assert "cleaner_http_requests_in_flight" in text


def test_metrics_count_spam_pages(real_cleaner: Any) -> None:
    from cleaner.result import Line, Result

    class Spammy:
        manifest = real_cleaner.manifest

        def clean(self, *args: Any, **kwargs: Any) -> Result:
            lines = [Line(0, "content", {}, "a", "a"), Line(1, "spam", {}, "b", None)]
            return Result("a", None, None, lines, "text", "t")

    client = create_app({**BASE, "CLEANER": Spammy()}).test_client()
    client.post("/v1/clean", json={"text": "a\nb"})
    text = client.get("/metrics").get_data(as_text=True)
    assert _sample(text, "cleaner_pages_with_spam_total") == 1
    assert _sample(text, "cleaner_units_total", label="spam") == 1


# --- limits ------------------------------------------------------------------------------------


def test_too_many_units(real_cleaner: Any) -> None:
    client = create_app({**BASE, "CLEANER": real_cleaner, "MAX_UNITS": 10}).test_client()
    many = "\n".join(f"line number {i}" for i in range(11))
    for response in (
        client.post("/v1/clean", data=many.encode(), content_type="text/plain"),
        client.post("/v1/clean", json={"text": many}),
        client.post("/v1/clean", json={"html": "".join(f"<p>{i}</p>" for i in range(11))}),
    ):
        assert_error(response, 413, "too_many_units")
    # Blank lines are not units: ten lines among many blank ones are fine.
    response = client.post("/v1/clean", json={"text": "\n\n\n".join(many.split("\n")[:10])})
    assert response.status_code == 200
    out = client.post("/v1/clean/batch", json=[{"text": many}, {"text": PAGE}]).get_json()
    assert out[0]["error"]["code"] == "too_many_units" and out[1]["error"] is None


def test_too_complex_html(real_cleaner: Any) -> None:
    client = create_app({**BASE, "CLEANER": real_cleaner, "MAX_HTML_TAGS": 50}).test_client()
    response = client.post("/v1/clean", data=b"<p>x</p>" * 30, content_type="text/html")
    assert_error(response, 413, "too_complex")
    deep = "<div>" * 100_000 + "text" + "</div>" * 100_000
    client = create_app({**BASE, "CLEANER": real_cleaner}).test_client()
    response = client.post("/v1/clean", json={"html": deep})
    assert_error(response, 413, "too_complex")


def test_deadline(real_cleaner: Any) -> None:
    client = create_app({**BASE, "CLEANER": real_cleaner, "REQUEST_TIMEOUT": 1e-9}).test_client()
    response = client.post("/v1/clean", data=PAGE.encode(), content_type="text/plain")
    assert_error(response, 413, "deadline_exceeded")


def test_batch_deadline_errors_the_items_it_does_not_reach(real_cleaner: Any) -> None:
    from cleaner.result import Line, Result

    class Slow:
        """Each page takes 1 s: with a 1.5 s budget, items 0 and 1 start in time, 2 and 3 not
        (half a second of margin either way, for shared CI cores)."""

        manifest = real_cleaner.manifest

        def clean_page(self, page: Any, repair: bool = True) -> Result:
            time.sleep(1.0)
            return Result("a", None, None, [Line(0, "content", {}, "a", "a")], "text", "t")

    client = create_app({**BASE, "CLEANER": Slow(), "REQUEST_TIMEOUT": 1.5}).test_client()
    items = [{"id": i, "text": PAGE} for i in range(4)]
    response = client.post("/v1/clean/batch", json=items)
    assert response.status_code == 200
    out = response.get_json()
    assert [r["id"] for r in out] == [0, 1, 2, 3]
    assert [r["error"] and r["error"]["code"] for r in out] == [
        None, None, "deadline_exceeded", "deadline_exceeded"
    ]


def test_limits_from_environment(real_cleaner: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEANER_MAX_BATCH", "2")
    monkeypatch.setenv("CLEANER_MAX_BODY_BYTES", "500")
    app = create_app({"CLEANER": real_cleaner, "WARMUP": False, "API_KEY": None})
    assert app.config["MAX_BATCH"] == 2 and app.config["MAX_CONTENT_LENGTH"] == 500
    doc = app.test_client().get("/openapi.json").get_json()
    batch = doc["paths"]["/v1/clean/batch"]["post"]["requestBody"]["content"]
    assert batch["application/json"]["schema"]["maxItems"] == 2
    monkeypatch.setenv("CLEANER_MAX_UNITS", "many")
    with pytest.raises(ValueError, match="CLEANER_MAX_UNITS"):
        create_app({"CLEANER": real_cleaner, "WARMUP": False})


def test_deeply_nested_json_is_a_400(client: FlaskClient) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    response = client.post("/v1/clean/batch", data=body, content_type="application/json")
    assert_error(response, 400, "invalid_json")


# --- watchdog ----------------------------------------------------------------------------------


def test_watchdog_retires_the_worker_once_a_request_overruns() -> None:
    retired: list[bool] = []
    dog = Watchdog(10.0, retire=lambda: retired.append(True))
    dog.begin("fast")
    dog.end()
    dog.begin("slow")
    now = time.monotonic()
    assert dog.check(now + 5) == [] and not retired
    assert dog.check(now + 11) == ["slow"] and retired == [True]
    assert dog.check(now + 12) == ["slow"] and retired == [True]  # once
