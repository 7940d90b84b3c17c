"""Personal data never survives redaction; amounts, dates and hotline numbers do."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.redact import luhn_valid, redact

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)
filler = st.sampled_from(["", " ", "我的", "号码是", "，", "。", "call me on ", "my card: ", "卡号", "\n", "(", ")"])


def luhn_complete(body: str) -> str:
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError


@st.composite
def mobile(draw):
    number = "1" + draw(st.sampled_from("3456789")) + "".join(draw(digits) for _ in range(9))
    style = draw(st.sampled_from(["plain", "dash", "space", "+86", "0086"]))
    if style == "dash":
        return f"{number[:3]}-{number[3:7]}-{number[7:]}", number
    if style == "space":
        return f"{number[:3]} {number[3:7]} {number[7:]}", number
    if style == "+86":
        return f"+86 {number}", number
    if style == "0086":
        return f"0086{number}", number
    return number, number


@st.composite
def landline(draw):
    area = draw(st.sampled_from(["010", "021", "020", "0755", "0571", "0311"]))
    local = draw(st.sampled_from("2345678")) + "".join(draw(digits) for _ in range(draw(st.sampled_from([6, 7]))))
    sep = draw(st.sampled_from(["-", " ", ""]))
    return f"{area}{sep}{local}", local


@st.composite
def resident_id(draw):
    area = draw(st.sampled_from(["110105", "310101", "440305", "510104"]))
    year = draw(st.integers(1930, 2010))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, 28))
    seq = "".join(draw(digits) for _ in range(3))
    check = draw(st.sampled_from(list("0123456789Xx")))
    text = f"{area}{year}{month:02d}{day:02d}{seq}{check}"
    return text, text[:17]


@st.composite
def card(draw):
    length = draw(st.integers(13, 19))
    body = draw(st.sampled_from(["62", "4", "5", "37"]))
    body += "".join(draw(digits) for _ in range(length - 1 - len(body)))
    number = luhn_complete(body)
    grouped = draw(st.booleans())
    text = " ".join(number[i : i + 4] for i in range(0, len(number), 4)) if grouped else number
    return text, number


@st.composite
def email(draw):
    user = draw(st.from_regex(r"[a-z][a-z0-9._]{1,12}", fullmatch=True))
    host = draw(st.sampled_from(["qq.com", "163.com", "gmail.com", "bank.com.cn"]))
    return f"{user}@{host}", f"{user}@{host}"


@settings(max_examples=300, deadline=None)
@given(st.one_of(mobile(), landline(), resident_id(), card(), email()), filler, filler)
def test_personal_numbers_never_survive(secret, before, after):
    shown, core = secret
    out = redact(f"{before}{shown}{after}")
    assert core not in re.sub(r"[\s-]", "", out), out
    assert shown not in out


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10_000_000), st.integers(1, 120), st.sampled_from(["元", "块", "块钱", " yuan", "万"]))
def test_amounts_and_durations_survive(amount, months, unit):
    text = f"我欠了{amount}{unit}，逾期{months}个月了，本金{amount}元"
    assert redact(text) == text


def test_hotlines_dates_and_articles_survive():
    text = "拨打12378或12356，2026年3月31日前，民法典第1161条，5万元以上，GB/T 2025"
    assert redact(text) == text


def test_examples():
    assert redact("我的电话13812345678") == "我的电话[电话]"
    assert redact("身份证11010519491231002X，邮箱a.b@qq.com") == "身份证[身份证号]，邮箱[邮箱]"
    assert redact("card 4111 1111 1111 1111 please") == "card [卡号] please"
    assert redact("not a card 4111 1111 1111 1112") == "not a card 4111 1111 1111 1112"
