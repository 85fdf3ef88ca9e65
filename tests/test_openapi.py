"""The OpenAPI document is the real contract: schemathesis drives the app (in-process WSGI)
with generated requests, valid and invalid, and every response must conform to the document:
documented status, documented Content-Type, body matching its schema, required headers."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import negative_data_rejection

from cleaner.openapi import openapi_document
from service import DEFAULTS, create_app

EXAMPLES = 25  # per operation; enough to hit every branch, bounded for shared CI cores


CONFIG = {"API_KEY": None, "WARMUP": False, "MAX_BATCH": 4, "LOG_JSON": False}


@pytest.fixture(scope="module")
def wsgi_app(real_cleaner: Any) -> Any:
    return create_app({**CONFIG, "CLEANER": real_cleaner})


# The document is built without loading the model (collection stays cheap); the test checks
# that the app serves this very document. (schemathesis.pytest.from_fixture would load it from
# the app, but it relies on pytest internals that pytest 9 no longer has.)
# A page that is valid as a string can still be empty of text (whitespace, bare markup) or not
# text at all: 422 is the documented answer to such schema-valid input. And 413 is how a batch
# over maxItems is refused. Both are added to schemathesis's defaults.
CHECKS = SchemathesisConfig.from_str(
    """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]

[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428",
                     "429", "5xx"]
"""
)
schema = schemathesis.openapi.from_dict(
    openapi_document(max_batch=4, max_body_bytes=DEFAULTS["MAX_CONTENT_LENGTH"], auth=False),
    config=CHECKS,
)


def test_the_app_serves_this_document(wsgi_app: Any) -> None:
    served = wsgi_app.test_client().get("/openapi.json").get_json()
    assert served == schema.raw_schema


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_response_conforms(case: Any, wsgi_app: Any) -> None:
    excluded = []
    if (case.media_type or "").startswith("text/"):
        # Every byte string is a page: the "schema-violating" text body schemathesis makes
        # (say `{}` sent as text/html) is valid input, rightly cleaned with a 200.
        excluded.append(negative_data_rejection)
    case.call_and_validate(app=wsgi_app, excluded_checks=excluded)


def test_document_is_openapi_3_1(real_cleaner: Any) -> None:
    app = create_app({"CLEANER": real_cleaner, "API_KEY": None, "WARMUP": False})
    doc = app.test_client().get("/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    # Every route the app has is documented, and nothing else is.
    routes = {r.rule for r in app.url_map.iter_rules() if r.endpoint != "static"}
    assert routes == set(doc["paths"])
