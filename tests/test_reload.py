"""Packs reload without a restart (admin endpoint and SIGHUP); an invalid pack is refused and never replaces the old."""

import json
import shutil
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.api import create_app
from bot.settings import Settings
from tests.conftest import MINI
from tests.server import ApiServer

TOKEN = "s3cret-admin-token"
NEW_INTENT = """
intents:
  - id: court.costs
    title: {zh-Hans: 诉讼费谁出, en: Who pays court fees}
    examples: {zh-Hans: [打官司的诉讼费谁来出], en: [who pays the court fees]}
    answer: {zh-Hans: 一般由败诉方负担。, en: Usually the losing side.}
    citations: [{source: civil_code}]
    related: []
    reviewed: 2026-11-28
"""


@pytest.fixture()
def packs(tmp_path: Path) -> Path:
    root = tmp_path / "packs"
    shutil.copytree(MINI, root / "mini")
    return root


def admin_client(packs: Path, tmp_path: Path, token: str = TOKEN) -> TestClient:
    settings = Settings(packs_dir=packs, default_pack="mini", data_dir=tmp_path / "data", admin_token=token)
    return TestClient(create_app(settings), raise_server_exceptions=False)


def test_reload_is_off_without_a_token_and_needs_the_right_one(packs, tmp_path):
    assert admin_client(packs, tmp_path, token="").post("/v1/admin/reload").status_code == 404
    client = admin_client(packs, tmp_path)
    assert client.post("/v1/admin/reload").status_code == 401
    wrong = client.post("/v1/admin/reload", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "WWW-Authenticate" in wrong.headers


def test_reload_picks_up_new_content(packs, tmp_path):
    client = admin_client(packs, tmp_path)
    assert client.get("/healthz").json()["packs"] == {"mini": 6}
    (packs / "mini" / "more.yaml").write_text(NEW_INTENT, encoding="utf-8")
    response = client.post("/v1/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and response.json() == {"status": "reloaded", "packs": {"mini": 7}}
    assert client.get("/v1/intents/court.costs", params={"pack": "mini"}).status_code == 200


def test_invalid_pack_is_refused_and_the_old_one_keeps_answering(packs, tmp_path):
    client = admin_client(packs, tmp_path)
    (packs / "mini" / "broken.yaml").write_text("intents:\n  - id: a.b\n    related: [no.such]\n", encoding="utf-8")
    response = client.post("/v1/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 422
    errors = response.json()["detail"]["errors"]
    assert any("broken.yaml" in e and "no.such" in e for e in errors)
    reply = client.post("/v1/chat", json={"message": "信用卡逾期会坐牢吗", "pack": "mini"}).json()
    assert reply["intent"] == "crime.card_debt_crime"


def test_requests_during_reloads_never_fail(packs, tmp_path):
    server = ApiServer(tmp_path, BOT_PACKS_DIR=str(packs), BOT_DEFAULT_PACK="mini", BOT_ADMIN_TOKEN=TOKEN).start()
    results: list[tuple[int, str | None]] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            while not stop.is_set():
                r = http.post("/v1/chat", json={"message": "信用卡逾期会坐牢吗", "pack": "mini"})
                results.append((r.status_code, r.json().get("intent")))

    try:
        workers = [threading.Thread(target=hammer) for _ in range(3)]
        for w in workers:
            w.start()
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for i in range(6):
                if i == 3:
                    (packs / "mini" / "more.yaml").write_text(NEW_INTENT, encoding="utf-8")
                r = http.post("/v1/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
                assert r.status_code == 200
        time.sleep(0.3)
        stop.set()
        for w in workers:
            w.join()
    finally:
        stop.set()
        server.stop()
    assert len(results) > 20
    assert set(results) == {(200, "crime.card_debt_crime")}


def test_sighup_reloads_and_refuses_an_invalid_pack(packs, tmp_path):
    server = ApiServer(tmp_path, BOT_PACKS_DIR=str(packs), BOT_DEFAULT_PACK="mini").start()

    def intents() -> int:
        return httpx.get(server.url + "/healthz").json()["packs"]["mini"]

    def wait_for(count: int) -> bool:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if intents() == count:
                return True
            time.sleep(0.1)
        return False

    try:
        (packs / "mini" / "more.yaml").write_text(NEW_INTENT, encoding="utf-8")
        server.proc.send_signal(signal.SIGHUP)
        assert wait_for(7)
        (packs / "mini" / "more.yaml").write_text("intents: [{id: x}", encoding="utf-8")  # a syntax error
        server.proc.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        assert intents() == 7 and server.proc.poll() is None
        refused = [json.loads(line) for line in server.log.read_text().splitlines() if "reload_refused" in line]
        assert refused and any("more.yaml" in e for e in refused[-1]["errors"])
    finally:
        server.stop()
