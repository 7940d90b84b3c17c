"""Body-size cap, per-client rate limiting (in memory and shared through a real Redis), hostile input."""

import ipaddress
import os
import uuid

import pytest
from fastapi.testclient import TestClient

from bot.api import create_app
from bot.guard import client_address
from bot.settings import Settings
from tests.conftest import FIXTURES

REDIS_URL = os.environ.get("BOT_TEST_REDIS_URL")


def app_client(tmp_path, client=("203.0.113.7", 50000), **overrides) -> TestClient:
    settings = Settings(packs_dir=FIXTURES, default_pack="mini", data_dir=tmp_path, **overrides)
    return TestClient(create_app(settings), raise_server_exceptions=False, client=client)


def ask(client, message="信用卡逾期会坐牢吗", **headers):
    return client.post("/v1/chat", json={"message": message, "pack": "mini"}, headers=headers)


def test_body_over_the_cap_is_413(tmp_path):
    client = app_client(tmp_path, max_body_bytes=2048)
    big = client.post(
        "/v1/chat", content=b'{"message": "' + b"a" * 4000 + b'"}', headers={"Content-Type": "application/json"}
    )
    assert big.status_code == 413 and "2048" in big.json()["detail"]
    assert ask(client).status_code == 200  # the server is fine afterwards


def test_rate_limit_answers_429_with_retry_after(tmp_path):
    client = app_client(tmp_path, rate_limit="3/minute")
    assert [ask(client).status_code for _ in range(3)] == [200, 200, 200]
    limited = ask(client)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert "try again" in limited.json()["detail"]
    other = TestClient(client.app, client=("198.51.100.9", 1))
    assert ask(other).status_code == 200  # counted per client
    assert client.get("/healthz").status_code == 200  # reading is not limited


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(tmp_path):
    client = app_client(tmp_path, rate_limit="2/minute")
    for hop in ("1.1.1.1", "2.2.2.2", "3.3.3.3"):
        last = ask(client, **{"X-Forwarded-For": hop})
    assert last.status_code == 429  # spoofed headers from an untrusted peer do not buy more requests


def test_trusted_proxy_forwards_the_real_client(tmp_path):
    client = app_client(tmp_path, client=("10.0.0.5", 1), rate_limit="2/minute", trusted_proxies=("10.0.0.0/8",))
    codes = [ask(client, **{"X-Forwarded-For": f"192.0.2.{i}"}).status_code for i in range(5)]
    assert codes == [200] * 5  # five different borrowers behind one proxy
    assert [ask(client, **{"X-Forwarded-For": "192.0.2.99"}).status_code for _ in range(3)] == [200, 200, 429]


def test_client_address_takes_the_rightmost_untrusted_hop():
    trusted = [ipaddress.ip_network("10.0.0.0/8")]
    scope = {"client": ("10.1.1.1", 1), "headers": [(b"x-forwarded-for", b"6.6.6.6, 192.0.2.1, 10.2.2.2")]}
    assert client_address(scope, trusted) == "192.0.2.1"
    assert client_address({**scope, "client": ("192.0.2.50", 1)}, trusted) == "192.0.2.50"


@pytest.mark.parametrize(
    "message",
    [
        "\u0000\u0007\u001b hi \u202e",
        "😀" * 999,
        "信用卡 credit card кредит ائتمان 💳",
        "\ud7ff" * 10,
        " \u3000 催收 \u3000",
    ],
)
def test_odd_messages_get_a_normal_reply(tmp_path, message):
    response = ask(app_client(tmp_path, rate_limit="1000/minute"), message)
    assert response.status_code == 200 and response.json()["type"] in {"answer", "clarify", "fallback", "crisis"}


def test_ten_thousand_emoji_is_a_clear_422(tmp_path):
    response = ask(app_client(tmp_path), "😀" * 10_000)
    assert response.status_code in (413, 422)


def test_deeply_nested_json_is_a_4xx(tmp_path):
    client = app_client(tmp_path)
    for body in (b"[" * 5000 + b"]" * 5000, b'{"message": ' * 2000 + b'"x"' + b"}" * 2000):
        response = client.post("/v1/chat", content=body, headers={"Content-Type": "application/json"})
        assert 400 <= response.status_code < 500
    assert ask(client).status_code == 200


@pytest.fixture()
def redis_url() -> str:
    if not REDIS_URL:
        if os.environ.get("CI") == "true":
            pytest.fail("BOT_TEST_REDIS_URL is not set in CI")
        pytest.skip("no Redis server (set BOT_TEST_REDIS_URL)")
    return REDIS_URL


@pytest.mark.redis
def test_counters_are_shared_between_instances_through_redis(tmp_path, redis_url):
    # Two API instances behind a load balancer, one client: together they allow the limit once, not twice.
    client_ip = f"192.0.2.{uuid.uuid4().int % 250 + 1}"
    first = app_client(tmp_path / "a", client=(client_ip, 1), rate_limit="3/minute", rate_limit_storage=redis_url)
    second = app_client(tmp_path / "b", client=(client_ip, 1), rate_limit="3/minute", rate_limit_storage=redis_url)
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    codes = [ask(first).status_code, ask(second).status_code, ask(first).status_code, ask(second).status_code]
    assert codes == [200, 200, 200, 429]


def test_unreachable_rate_limit_storage_fails_open(tmp_path):
    client = app_client(tmp_path, rate_limit="1/minute", rate_limit_storage="redis://127.0.0.1:1/0")
    assert [ask(client).status_code for _ in range(3)] == [200, 200, 200]


def test_cors_allows_any_origin_without_credentials_and_exposes_retry_after(tmp_path):
    client = app_client(tmp_path, rate_limit="1/minute")
    preflight = client.options(
        "/v1/chat",
        headers={
            "Origin": "https://counselor.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in preflight.headers
    ask(client, Origin="https://counselor.example")
    limited = ask(client, Origin="https://counselor.example")
    assert limited.status_code == 429 and limited.headers["access-control-allow-origin"] == "*"
    assert "retry-after" in limited.headers["access-control-expose-headers"].lower()


def test_cors_origins_can_be_restricted(tmp_path):
    client = app_client(tmp_path, cors_origins=("https://legal-aid.example",))
    allowed = ask(client, Origin="https://legal-aid.example")
    other = ask(client, Origin="https://evil.example")
    assert allowed.headers["access-control-allow-origin"] == "https://legal-aid.example"
    assert "access-control-allow-origin" not in other.headers
