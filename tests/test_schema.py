"""Schemathesis fuzzes every operation from /openapi.json: no 5xx, and every response matches the schema."""

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from bot.api import create_app
from bot.settings import Settings

app = create_app(Settings(rate_limit="1000000/minute", data_dir=Path(tempfile.mkdtemp(prefix="bot-schema-"))))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_and_never_fails(case):
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])
