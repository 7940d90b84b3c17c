"""The real API in a uvicorn subprocess on a loopback port, for tests that need real HTTP, signals or restarts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class ApiServer:
    """`uvicorn bot.api:app` with its own data folder and the given BOT_* settings; stop() and start() again."""

    def __init__(self, tmp: Path, port: int | None = None, rate_limit: str = "100000/minute", **env: str) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = tmp / f"api-{self.port}.log"
        self.env = {
            **os.environ,
            "BOT_RATE_LIMIT": rate_limit,  # tests send more than a person would
            "BOT_DATA_DIR": str(tmp / "data"),
            "PYTHONUNBUFFERED": "1",
            **env,
        }

    def start(self, timeout: float = 60.0) -> ApiServer:
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "bot.api:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"API server exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if http_get(self.url + "/healthz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"API server not healthy within {timeout} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
