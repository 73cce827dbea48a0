"""schemathesis against the API's OpenAPI schema, with the real Elasticsearch behind it: no request the schema
allows gets a 5xx answer. The live tail is left out: a stream that never ends is not a request-response case."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import settings

from api import create_app
from logjet.config import LogjetSettings
from tests.integration.conftest import api_key

TOKEN, KEY = api_key(all_logs=True)
# A key with every kind of scope: its filter is part of every query the schema's requests make.
SCOPED_TOKEN, SCOPED_KEY = api_key(namespaces=["shop"], services=["bank/payments"], labels={"team": ["payments"]},
                                   container_labels={"com.example.team": ["payments"]})
# The app only connects when a request comes; the `endpoints` fixture below has the stack up by then. Settings come
# from the environment like the stack's, so they point at the same servers.
APP = create_app(LogjetSettings(api={"keys": [KEY, SCOPED_KEY]}))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(path="/v1/logs/tail")


@pytest.fixture(autouse=True)
def _stack(endpoints) -> None:  # noqa: ANN001, PT004
    pass


@schema.parametrize()
@settings(max_examples=60, deadline=None)
def test_no_request_the_schema_allows_gets_a_server_error(case) -> None:  # noqa: ANN001
    response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code < 500, f"{case.method} {case.formatted_path} {case.query}: {response.text[:300]}"


@schema.parametrize()
@settings(max_examples=25, deadline=None)
def test_no_request_the_schema_allows_gets_a_server_error_under_a_scoped_key(case) -> None:  # noqa: ANN001
    response = case.call(headers={"Authorization": f"Bearer {SCOPED_TOKEN}"})
    assert response.status_code < 500, f"{case.method} {case.formatted_path} {case.query}: {response.text[:300]}"
