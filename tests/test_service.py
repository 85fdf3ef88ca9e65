"""The HTTP service, through Flask's test client, against the shipped model."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cleaner.errors import ModelError
from cleaner.units import LABELS
from service import create_app

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


@pytest.fixture()
def app(real_cleaner: Any) -> Flask:
    return create_app({"CLEANER": real_cleaner, "MAX_BATCH": 5})


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


# --- app creation ----------------------------------------------------------------------------


def test_create_app_loads_the_shipped_model() -> None:
    client = create_app().test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
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
    assert ARTICLE in data["text"]


def test_clean_html(client: FlaskClient) -> None:
    response = client.post("/v1/clean", data=HTML.encode(), content_type="text/html; charset=utf-8")
    assert response.status_code == 200
    data = response.get_json()
    assert data["kind"] == "html"
    assert ARTICLE in data["text"]


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
    assert RESULT_KEYS <= set(out[0]) and ARTICLE in out[0]["text"]
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


# --- errors --------------------------------------------------------------------------------------


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
    client = create_app({"CLEANER": real_cleaner, "MAX_CONTENT_LENGTH": 1000}).test_client()
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
    client = create_app({"CLEANER": Broken()}).test_client()
    response = client.post("/v1/clean", data=PAGE.encode(), content_type="text/plain")
    error = assert_error(response, 500, "internal")
    assert "secret" not in error["message"]
    assert "secret internal detail" in caplog.text  # logged for the operator


def test_internal_error_in_batch_is_in_place() -> None:
    client = create_app({"CLEANER": Broken()}).test_client()
    response = client.post("/v1/clean/batch", json=[{"id": "x", "text": PAGE}])
    assert response.status_code == 200
    assert response.get_json() == [
        {"id": "x", "error": {"code": "internal", "message": "internal error"}}
    ]
