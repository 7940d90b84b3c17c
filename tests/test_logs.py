"""Logs are JSON lines about the reply, never the borrower's words or numbers."""

import json
import logging


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_chat_logs_carry_reply_facts_but_not_the_message(mini_client):
    handler = Collect()
    logging.getLogger("bot.chat").addHandler(handler)
    try:
        message = "信用卡逾期了会不会坐牢 13812345678 4111111111111111"
        assert mini_client.post("/v1/chat", json={"message": message, "pack": "mini"}).status_code == 200
    finally:
        logging.getLogger("bot.chat").removeHandler(handler)
    assert len(handler.lines) == 1
    entry = json.loads(handler.lines[0])
    assert entry["event"] == "reply" and entry["type"] == "answer" and entry["intent"] == "crime.card_debt_crime"
    assert {"confidence", "lang", "latency_ms", "pack"} <= set(entry)
    for secret in ("13812345678", "4111111111111111", "坐牢"):
        assert secret not in handler.lines[0]
