from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.api import create_app
from bot.dialogue import Engine
from bot.pack import load_pack
from bot.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"
MINI = FIXTURES / "mini"
BUNDLED = Path(__file__).resolve().parent.parent / "intents" / "cn"


@pytest.fixture(scope="session")
def mini_engine() -> Engine:
    return Engine(load_pack(MINI))


@pytest.fixture(scope="session")
def cn_engine() -> Engine:
    return Engine(load_pack(BUNDLED))


@pytest.fixture()
def mini_copy(tmp_path: Path) -> Path:
    """A writable copy of the mini pack, for tests that break it on purpose."""
    target = tmp_path / "mini"
    shutil.copytree(MINI, target)
    return target


@pytest.fixture(scope="session")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """The real app on the bundled packs, default settings but its own data folder and a generous rate limit."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), rate_limit="10000/minute")
    return TestClient(create_app(settings), raise_server_exceptions=False)


@pytest.fixture()
def mini_client(tmp_path: Path) -> TestClient:
    settings = Settings(packs_dir=FIXTURES, default_pack="mini", data_dir=tmp_path, rate_limit="10000/minute")
    return TestClient(create_app(settings), raise_server_exceptions=False)
