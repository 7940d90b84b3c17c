"""Removing personal data from text before anything is logged or stored.

Borrowers type phone numbers, resident ID numbers, card numbers and e-mail addresses. Whatever we keep (the
unanswered questions counselors review) passes through `redact` first. Amounts ("欠了30000元") and durations
("3个月") must survive: a card number is only redacted when it passes the Luhn check, and a phone number only
in the shapes mainland numbers take.
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.ASCII)
# 18-digit resident ID: 6-digit area, birth date 18xx/19xx/20xx, 3-digit sequence, check digit or X.
RESIDENT_ID = re.compile(r"(?<!\d)[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?!\d)")
# Digits possibly grouped by spaces or dashes (card numbers are often typed "6222 0212 3456 7890").
DIGIT_RUN = re.compile(r"(?<![\d])\d(?:[ \-]?\d){12,18}(?![\d])")
# Mainland mobile: 1[3-9]x xxxx xxxx, optionally +86/0086 and separators.
MOBILE = re.compile(r"(?<!\d)(?:(?:\+|00)86[ \-]?)?1[3-9]\d(?:[ \-]?\d{4}){2}(?!\d)")
# Landline: 0 + 2–3 digit area code, a separator (or none), 7–8 digits, optional extension.
LANDLINE = re.compile(
    r"(?<!\d)(?:\(?0\d{2,3}\)?[ \-]?)\d{7,8}(?:[ \-]?(?:转|ext\.?|x)[ \-]?\d{1,6})?(?!\d)", re.IGNORECASE
)

MASKS = {"email": "[邮箱]", "id": "[身份证号]", "card": "[卡号]", "phone": "[电话]"}


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return MASKS["card"] if 13 <= len(digits) <= 19 and luhn_valid(digits) else match.group(0)


def redact(text: str) -> str:
    """The text with e-mail addresses, resident IDs, Luhn-valid card numbers and phone numbers masked."""
    text = EMAIL.sub(MASKS["email"], text)
    text = RESIDENT_ID.sub(MASKS["id"], text)
    text = MOBILE.sub(MASKS["phone"], text)
    text = DIGIT_RUN.sub(_card, text)
    return LANDLINE.sub(MASKS["phone"], text)
