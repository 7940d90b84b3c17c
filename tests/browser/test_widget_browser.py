"""The web widget in a real browser (Chromium via Playwright) against the real API server.

Assertions are about behaviour (an answer with a citation appears, a chip produces a reply), not exact texts: the
intent pack changes independently of the widget.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import threading
from pathlib import Path

import pytest

try:
    from playwright.sync_api import expect
except ImportError:
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("browser tests skipped: pip install playwright", allow_module_level=True)

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"

FLOATING = "debt-rights-chat:not([mode=inline])"
REPLY = ".b.a:not(.g):not(.t):not(.er)"  # a bot reply: not the greeting, the typing indicator or an error
CARD_CRIME = "信用卡逾期会坐牢吗"
# Characters that exist only in Traditional (and their Simplified forms), frequent in this bot's answers.
TRAD_ONLY = set("們會說還這為爲債務權與關錄條據專聯繫應該沒個來時對過發現")
SIMP_ONLY = set("们会说还这为债务权与关录条据专联系应该没个来时对过发现")


class Widget:
    """Drives one <debt-rights-chat> instance through its (open) shadow root."""

    def __init__(self, page, selector: str = FLOATING) -> None:
        self.page = page
        self.el = page.locator(selector)
        self.launcher = self.el.locator(".l")
        self.panel = self.el.locator(".p")
        self.input = self.el.locator("textarea")
        self.log = self.el.locator("[role=log]")
        self.replies = self.el.locator(REPLY)
        self.user_msgs = self.el.locator(".b.u")

    def open(self) -> Widget:
        self.launcher.click()
        expect(self.panel).to_be_visible()
        return self

    def ask(self, text: str, expect_replies: int | None = None) -> None:
        before = self.replies.count()
        self.input.fill(text)
        self.input.press("Enter")
        expect(self.replies).to_have_count(expect_replies or before + 1)

    def last(self):
        return self.replies.last

    def button(self, name: str, exact: bool = True):
        return self.el.get_by_role("button", name=name, exact=exact)

    def shadow(self, js: str):
        """Evaluate `js` (a function body) with `root` bound to the shadow root."""
        return self.el.evaluate(f"(el) => {{ const root = el.shadowRoot; {js} }}")


def record_events(page) -> None:
    page.evaluate(
        """() => { window.__events = window.__events || [];
        for (const n of ['open', 'close', 'reply', 'error', 'clear', 'exit'])
          window.addEventListener('debt-rights-chat:' + n,
            (e) => window.__events.push({name: n, detail: e.detail || null})); }"""
    )


def events(page, name: str) -> list:
    return page.evaluate("(n) => (window.__events || []).filter((e) => e.name === n).map((e) => e.detail)", name)


def test_answer_with_citation(page, api):
    page.goto(api.url + "/")
    record_events(page)
    w = Widget(page).open()
    expect(w.input).to_be_focused()
    w.ask(CARD_CRIME)
    reply = w.last()
    expect(reply.locator("details summary")).to_contain_text("依据")
    reply.locator("details summary").click()
    expect(reply.locator("details li").first).to_be_visible()
    assert len(reply.inner_text()) > 40
    expect(reply.locator("strong").first).to_be_visible()  # **bold** rendered as <strong>, not as asterisks
    assert "**" not in reply.inner_text()
    expect(reply.locator(".d")).not_to_be_empty()  # the disclaimer
    (detail,) = events(page, "reply")
    assert detail["question"] == CARD_CRIME
    assert detail["reply"]["type"] == "answer" and detail["reply"]["citations"]
    # 👍 posts feedback (a 404 until the endpoint exists is ignored) and says thanks
    reply.get_by_role("button", name="有帮助").click()
    expect(reply.get_by_role("button", name="有帮助")).to_have_attribute("aria-pressed", "true")
    expect(reply.locator(".f [role=status]")).not_to_be_empty()


def test_suggestion_chips(page, api):
    page.goto(api.url + "/")
    w = Widget(page).open()
    # a starter chip in the greeting
    w.el.locator(".g .c button").first.click()
    expect(w.replies).to_have_count(1)
    expect(w.user_msgs).to_have_count(1)
    # a suggestion chip under an answer
    w.ask(CARD_CRIME, expect_replies=2)
    chips = w.last().locator(".c button")
    expect(chips.first).to_be_visible()
    title = chips.first.inner_text()
    chips.first.click()
    expect(w.replies).to_have_count(3)
    expect(w.user_msgs.last).to_contain_text(title)
    assert w.last().inner_text().strip()


def test_clarify_shows_did_you_mean_chips(page, api):
    page.goto(api.url + "/")
    w = Widget(page).open()
    w.ask("催收")
    last = w.last()
    kind = page.evaluate("() => JSON.parse(sessionStorage.getItem('drc:floating')).m.at(-1).d.type")
    if kind in ("clarify", "fallback"):
        expect(last.locator(".c button").first).to_be_visible()
        expect(last.locator(".c > span")).not_to_be_empty()  # "did you mean" / "try these"


def test_traditional_question_gets_traditional_answer(page, api):
    from opencc import OpenCC

    page.goto(api.url + "/")
    w = Widget(page).open()
    w.ask("信用卡逾期會坐牢嗎")
    reply = w.last()
    expect(reply).to_have_attribute("lang", "zh-Hant")
    text = reply.inner_text()
    assert OpenCC("t2s").convert(text) != text, "no Traditional characters in the answer"
    assert TRAD_ONLY & set(text) and not SIMP_ONLY & set(text), text[:300]
    # the widget follows the language the user writes in
    expect(w.button("繁")).to_have_attribute("aria-pressed", "true")
    expect(w.el.locator("h2")).to_have_text("催收權益問答")


def test_language_switch_sends_lang(page, api):
    page.goto(api.url + "/")
    w = Widget(page).open()
    w.button("繁").click()
    expect(w.el.locator(".g")).to_contain_text("律師")
    w.ask(CARD_CRIME)  # written in Simplified, answered in Traditional: the switch wins
    expect(w.last()).to_have_attribute("lang", "zh-Hant")
    w.button("EN").click()
    expect(w.input).to_have_attribute("placeholder", "Type your question")
    w.ask(CARD_CRIME)
    expect(w.last()).to_have_attribute("lang", "en")
    page.reload()  # the explicit choice survives a reload
    expect(Widget(page).button("EN")).to_have_attribute("aria-pressed", "true")


def test_traditional_browser_gets_traditional_ui(new_context, api):
    page = new_context(locale="zh-TW").new_page()
    page.goto(api.url + "/")
    w = Widget(page).open()
    expect(w.el.locator("h2")).to_have_text("催收權益問答")
    expect(w.el.locator(".g .c button").first).to_contain_text("還")


def test_html_in_message_is_text(page, api):
    page.goto(api.url + "/")
    w = Widget(page).open()
    evil = "<img src=x onerror=alert(1)>"
    w.ask(evil)
    expect(w.user_msgs.last).to_contain_text(evil)
    page.wait_for_timeout(300)
    assert page.dialogs == []
    counts = page.evaluate(
        """() => [...document.querySelectorAll('debt-rights-chat')].map((el) =>
            el.shadowRoot.querySelectorAll('img, script, iframe, object').length)"""
    )
    assert counts and not any(counts)
    assert page.evaluate("() => document.querySelectorAll('img').length") == 0


def test_markdown_renderer_allows_only_safe_links(page, api):
    """A stored reply (the widget re-renders sessionStorage on load) with hostile Markdown and citations."""
    page.goto(api.url + "/")
    reply = {
        "type": "answer",
        "intent": "x",
        "confidence": 1,
        "lang": "en",
        "title": "T <b>x</b>",
        "answer": "**Bold** and [ok](https://example.org/a) and [call](tel:12348) and [mail](mailto:a@example.org)\n"
        "and [bad](javascript:alert(1)) [bad2](data:text/html;base64,PHNjcmlwdD4=) [rel](/relative)\n\n"
        "- item <img src=x onerror=alert(3)>\n- **b** [x](JaVaScRiPt:alert%284%29) [y]( java\tscript:alert(9))\n"
        "- [vb](vbscript:msgbox)\n\n<script>alert(5)</script>",
        "citations": [
            {"title": "<i>Law</i>", "article": "Art. 1", "url": "javascript:alert(6)"},
            {"title": "Code", "article": None, "url": "https://flk.npc.gov.cn/"},
        ],
        "suggestions": [{"intent": "a", "title": "<img src=y onerror=alert(7)>"}],
        "disclaimer": "<b>not advice</b>",
        "reply_id": "r1",
    }
    state = {"m": [{"r": "u", "t": "<svg onload=alert(8)>"}, {"r": "b", "d": reply}], "o": True}
    page.evaluate("(s) => sessionStorage.setItem('drc:floating', JSON.stringify(s))", state)
    page.reload()
    w = Widget(page)
    expect(w.panel).to_be_visible()
    r = w.last()
    hrefs = r.locator("a").evaluate_all("(as) => as.map((a) => [a.getAttribute('href'), a.target, a.rel])")
    assert [h[0] for h in hrefs] == [
        "https://example.org/a",
        "tel:12348",
        "mailto:a@example.org",
        "https://flk.npc.gov.cn/",
    ]
    for href, target, rel in hrefs:
        assert rel == "noopener noreferrer"
        assert target == ("_blank" if href.startswith("https:") else "")
    text = r.text_content()  # includes the collapsed <details>
    for visible in (
        "bad",
        "bad2",
        "rel",
        "vb",
        "<img src=x onerror=alert(3)>",
        "<script>alert(5)</script>",
        "<i>Law</i>",
        "<img src=y onerror=alert(7)>",
    ):
        assert visible in text
    assert r.locator("strong").count() >= 2
    assert r.locator("li").count() >= 3
    assert w.shadow("return root.querySelectorAll('img, script, svg:not([aria-hidden]), iframe, i').length") == 0
    page.wait_for_timeout(300)
    assert page.dialogs == []


def test_keyboard_only(page, api, host):
    page.goto(host.page(api.url))
    w = Widget(page)
    expect(w.launcher).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.locator("#host-link")).to_be_focused()
    page.keyboard.press("Tab")
    expect(w.launcher).to_be_focused()
    assert w.launcher.evaluate("(b) => b.tagName") == "BUTTON"
    assert w.launcher.get_attribute("aria-label")
    page.keyboard.press("Enter")
    expect(w.panel).to_be_visible()
    expect(w.input).to_be_focused()
    page.keyboard.type("line 1")
    page.keyboard.press("Shift+Enter")  # a new line, not a send
    page.keyboard.type("line 2")
    expect(w.input).to_have_value("line 1\nline 2")
    expect(w.user_msgs).to_have_count(0)
    page.keyboard.press("Control+A")
    page.keyboard.type(CARD_CRIME)
    page.keyboard.press("Enter")
    expect(w.replies).to_have_count(1)
    expect(w.input).to_have_value("")
    # Tab through everything: every control is reachable
    seen = []
    for _ in range(60):
        page.keyboard.press("Tab")
        seen.append(
            w.shadow(
                "const a = root.activeElement; return a ? (a.className || a.tagName) + ':' + "
                "(a.getAttribute('aria-label') || a.textContent).slice(0, 20) : null"
            )
        )
    joined = "\n".join(s for s in seen if s)
    for needle in (
        "q:",
        "x:",
        "BUTTON:简",
        "BUTTON:繁",
        "BUTTON:EN",
        "m:",
        "TEXTAREA:",
        "s:",
        "SUMMARY:",
        "BUTTON:有帮助",
        "BUTTON:清空对话",
    ):
        assert needle in joined, f"{needle!r} not reached by Tab; reached:\n{joined}"
    # Enter on a suggestion chip asks it; Space on a language button switches the language
    w.last().locator(".c button").first.focus()
    page.keyboard.press("Enter")
    expect(w.replies).to_have_count(2)
    w.button("EN").focus()
    page.keyboard.press("Space")
    expect(w.button("EN")).to_have_attribute("aria-pressed", "true")
    # Escape closes the panel and gives focus back to the launcher
    w.input.focus()
    page.keyboard.press("Escape")
    expect(w.panel).to_be_hidden()
    expect(w.launcher).to_be_focused()
    page.keyboard.press("Enter")
    expect(w.panel).to_be_visible()
    expect(w.replies).to_have_count(2)  # the conversation is still there


def test_live_region_and_dialog_semantics(page, api):
    page.goto(api.url + "/")
    w = Widget(page).open()
    expect(w.log).to_have_attribute("aria-live", "polite")
    expect(w.panel).to_have_attribute("role", "dialog")
    assert w.panel.get_attribute("aria-label")
    expect(w.input).to_have_attribute("aria-label", re.compile(".+"))


def test_reload_keeps_conversation_and_clear_empties_it(page, api):
    page.goto(api.url + "/")
    w = Widget(page).open()
    w.ask(CARD_CRIME)
    page.reload()
    w = Widget(page)
    expect(w.panel).to_be_visible()  # it was open, so it is open again
    expect(w.user_msgs).to_have_count(1)
    expect(w.replies).to_have_count(1)
    expect(w.last().locator("details")).to_have_count(1)
    w.button("清空对话").click()
    expect(w.replies).to_have_count(0)
    expect(w.user_msgs).to_have_count(0)
    expect(w.el.locator(".g")).to_be_visible()  # the greeting stays
    page.reload()
    expect(Widget(page).user_msgs).to_have_count(0)


def test_nothing_in_local_storage_or_cookies_and_quick_exit(page, api):
    page.goto(api.url + "/")
    record_events(page)
    w = Widget(page).open()
    w.ask(CARD_CRIME)
    inline = Widget(page, "#article-chat")
    inline.ask("催收联系我家人合法吗")
    assert page.evaluate("() => localStorage.length") == 0
    assert page.evaluate("() => document.cookie") == ""
    assert page.context.cookies() == []
    keys = page.evaluate("() => Object.keys(sessionStorage)")
    assert sorted(keys) == ["drc:article-chat", "drc:floating"]
    # quick exit: everything erased and hidden at once, in both widgets
    w.button("快速离开", exact=False).click()
    expect(w.panel).to_be_hidden()
    expect(w.launcher).to_be_hidden()
    expect(inline.panel).to_be_hidden()
    assert page.evaluate("() => Object.keys(sessionStorage)") == []
    assert page.evaluate("() => localStorage.length") == 0
    assert events(page, "exit")
    page.reload()
    w = Widget(page)
    expect(w.launcher).to_be_visible()
    expect(w.user_msgs).to_have_count(0)
    expect(Widget(page, "#article-chat").user_msgs).to_have_count(0)


def test_api_down_shows_error_and_retry_works(page, make_api):
    server = make_api()
    server.start()
    page.goto(server.url + "/")
    w = Widget(page).open()
    w.ask(CARD_CRIME)
    server.stop()
    w.input.fill("催收联系我家人合法吗")
    w.input.press("Enter")
    error = w.el.locator(".er")
    expect(error).to_be_visible()
    expect(error).to_have_attribute("role", "alert")
    expect(error).to_contain_text("12348")
    expect(w.el.locator(".t")).to_have_count(0)  # typing indicator gone
    server.start()
    error.get_by_role("button", name="重试").click()
    expect(w.replies).to_have_count(2)
    expect(error).to_have_count(0)


def test_rate_limit_says_wait(page, make_api):
    server = make_api(rate_limit="2/minute")
    server.start()
    page.goto(server.url + "/")
    w = Widget(page).open()
    w.ask(CARD_CRIME)
    w.ask("催收联系我家人合法吗")
    w.input.fill("可以录音吗")
    w.input.press("Enter")
    error = w.el.locator(".er")
    expect(error).to_contain_text(re.compile(r"请等 \d+ 秒"))
    expect(error.get_by_role("button", name="重试")).to_be_disabled()


def test_hung_api_times_out_after_10_s(page, host):
    """A server that accepts the connection and never answers: the widget gives up after 10 s, visibly."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    conns = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conns.append(sock.accept()[0])

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        api_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        page.goto(host.page(api_url, selfhost="1", open="1"))
        w = Widget(page)
        w.input.fill(CARD_CRIME)
        w.input.press("Enter")
        expect(w.el.locator(".t")).to_have_count(1)
        expect(w.el.locator(".er")).to_contain_text("10", timeout=14_000)
        expect(w.el.locator(".t")).to_have_count(0)
        expect(w.el.locator(".er").get_by_role("button", name="重试")).to_be_enabled()
    finally:
        stop.set()
        t.join()
        for c in conns:
            c.close()
        sock.close()


def test_phone_375px_full_screen(new_context, api):
    ctx = new_context(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True, reduced_motion="reduce")
    page = ctx.new_page()
    page.goto(api.url + "/")
    w = Widget(page)
    w.launcher.tap()
    expect(w.panel).to_be_visible()
    box = w.panel.bounding_box()
    assert (round(box["x"]), round(box["y"]), round(box["width"]), round(box["height"])) == (0, 0, 375, 667)
    assert w.panel.evaluate("(p) => getComputedStyle(p).animationName") == "none"  # prefers-reduced-motion
    ta = w.input.bounding_box()
    assert ta["y"] + ta["height"] <= 667 and ta["y"] > 500
    send = w.el.locator(".s").bounding_box()
    assert send["x"] + send["width"] <= 375
    assert w.shadow("const p = root.querySelector('.p'); return p.scrollWidth <= p.clientWidth") is True
    # the panel follows the visual viewport (kept above the on-screen keyboard)
    assert w.el.evaluate("(el) => el.style.getPropertyValue('--drc-vh')") == "667px"
    w.ask(CARD_CRIME)
    box = w.last().bounding_box()
    assert box["width"] <= 375


def _axe(page):
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map((v) => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target)}))"
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_audit(new_context, api, scheme):
    assert AXE.exists(), "run `npm ci` for axe-core"
    page = new_context(bypass_csp=True, color_scheme=scheme, reduced_motion="reduce").new_page()
    page.goto(api.url + "/")
    w = Widget(page).open()
    w.ask(CARD_CRIME)
    w.last().locator("details summary").click()
    w.ask("我不想活了")  # a crisis reply has its own colours
    inline = Widget(page, "#article-chat")
    inline.ask(CARD_CRIME)
    background = w.panel.evaluate("(p) => getComputedStyle(p).backgroundColor")
    assert background == {"light": "rgb(255, 255, 255)", "dark": "rgb(30, 31, 34)"}[scheme]  # prefers-color-scheme
    bad = _axe(page)
    assert not bad, json.dumps(bad, ensure_ascii=False, indent=1)
    # the closed state (launcher only) too
    w.input.focus()
    page.keyboard.press("Escape")
    expect(w.launcher).to_be_visible()
    bad = _axe(page)
    assert not bad, json.dumps(bad, ensure_ascii=False, indent=1)


def test_hostile_css_and_strict_csp(page, api, host):
    """A third-party page whose own CSS tries to hide and wreck everything, with a strict CSP."""
    messages = []
    page.on("console", lambda m: messages.append(m.text) if m.type == "error" else None)
    resp = page.goto(host.page(api.url, csp="1", hostile="1", selfhost="1", accent="#ffd400"))
    assert "default-src 'self'" in resp.headers["content-security-policy"]
    w = Widget(page)
    expect(w.launcher).to_be_visible()
    box = w.launcher.bounding_box()
    assert box["width"] > 80 and box["height"] > 36
    style = w.launcher.evaluate(
        "(b) => { const s = getComputedStyle(b); return [s.fontSize, s.color, s.backgroundColor, s.opacity] }"
    )
    assert style == ["15px", "rgb(0, 0, 0)", "rgb(255, 212, 0)", "1"]  # black text on a yellow accent
    w.open()
    w.ask(CARD_CRIME)
    reply = w.last()
    expect(reply.locator("details")).to_have_count(1)
    size = reply.evaluate("(r) => [getComputedStyle(r).fontSize, getComputedStyle(r).color, r.offsetHeight]")
    assert size[0] == "15px" and size[1] != "rgb(255, 0, 0)" and size[2] > 60
    assert page.evaluate("() => window.__csp") == []
    assert not [m for m in messages if "Content Security Policy" in m], messages


def test_js_api_queue_and_events(page, api, host):
    """Commands queued before the script loads run once it has; the host page hears the widget's events."""
    page.goto(host.page(api.url, queue="1"))
    w = Widget(page)
    expect(w.panel).to_be_visible()
    expect(w.replies).to_have_count(1)
    expect(w.last()).to_have_attribute("lang", "en")  # setLang('en') ran before ask
    assert events(page, "open") == [None]
    (reply,) = events(page, "reply")
    assert reply["question"] == CARD_CRIME and reply["reply"]["reply_id"]
    page.evaluate("() => DebtRightsChat('close')")
    expect(w.panel).to_be_hidden()
    assert len(events(page, "close")) == 1
    page.evaluate("() => DebtRightsChat('ask', '催收联系我家人合法吗')")
    expect(w.panel).to_be_visible()
    expect(w.replies).to_have_count(2)
    page.evaluate("() => DebtRightsChat('clear')")
    expect(w.replies).to_have_count(0)


def test_inline_element_in_article(page, api):
    page.goto(api.url + "/")
    w = Widget(page, "#article-chat")
    expect(w.panel).to_be_visible()
    expect(w.el.locator(".l")).to_have_count(0)  # no launcher: it is part of the page
    expect(w.el.locator(".hu a")).to_have_attribute("href", "tel:12348")
    box = w.panel.bounding_box()
    assert box["height"] >= 500  # fills its 560 px container
    w.ask(CARD_CRIME)
    expect(w.last().locator("details")).to_have_count(1)
    # the floating widget is a separate conversation
    expect(Widget(page).user_msgs).to_have_count(0)


def test_demo_page_buttons_ask_the_floating_widget(page, api):
    page.goto(api.url + "/")
    page.locator("button.ask").first.click()
    w = Widget(page)
    expect(w.panel).to_be_visible()
    expect(w.replies).to_have_count(1)
    expect(page.locator("#snippet")).to_contain_text(api.url + "/widget.js")


def test_crisis_reply_is_distinct_with_hotlines_first(page, api):
    page.goto(api.url + "/")
    w = Widget(page).open()
    w.ask("我不想活了")
    reply = w.last()
    expect(reply).to_have_class(re.compile(r"\bcr\b"))
    border = reply.evaluate("(r) => parseFloat(getComputedStyle(r).borderTopWidth)")
    assert border >= 2
    # the answer comes right after the "urgent help" heading (no title, no chips before it)
    first = reply.evaluate("(r) => [...r.children].filter((c) => !c.classList.contains('sr')).map((c) => c.tagName)")
    assert first[:2] == ["P", "P"]
    # bold hotline numbers can be tapped to call
    expect(reply.locator("a[href^='tel:']").first).to_be_visible()
    expect(reply.locator(".f")).to_have_count(0)  # no "was this helpful?" under a crisis reply
