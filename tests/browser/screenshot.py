"""Regenerate docs/widget.png: the demo page with the floating widget answering a question.

    python tests/browser/screenshot.py [out.png]

Starts the real API (`uvicorn bot.api:app`) on a free loopback port and drives Debian's Chromium, like the tests.
(Colour emoji in the 👍/👎 buttons need the fonts-noto-color-emoji package; the tests do not.)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from conftest import CHROMIUM, CHROMIUM_ARGS, ROOT, WidgetApiServer  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

QUESTION = "信用卡逾期会坐牢吗"


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        api = WidgetApiServer(Path(tmp))
        api.start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = browser.new_page(
                    viewport={"width": 1200, "height": 820},
                    device_scale_factor=1,
                    locale="zh-CN",
                    reduced_motion="reduce",
                    color_scheme="light",
                )
                page.goto(api.url + "/")
                w = page.locator("debt-rights-chat:not([mode=inline])")
                w.locator(".l").click()
                w.locator("textarea").fill(QUESTION)
                w.locator("textarea").press("Enter")
                w.locator(".b.a:not(.g) details").wait_for()
                w.locator(".b.a:not(.g) details summary").click()
                # show the question and the start of the answer
                w.locator("[role=log]").evaluate(
                    "(log) => { const u = log.querySelector('.b.u'); log.scrollTop = u.offsetTop - 12; }"
                )
                page.screenshot(path=str(out))
                browser.close()
        finally:
            api.stop()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "widget.png")
