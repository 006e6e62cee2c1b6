"""AWS ``cron(...)`` expressions (EventBridge, Glue triggers): a pure parser, no ``aws_cdk``.

:func:`pipeline_constructs.core.validation.require_cron` turns its sentence into the library's error.
"""

from __future__ import annotations

import re

__all__ = ["parse_cron", "parse_window_cron"]

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# name, low, high, symbolic names (1-based)
_CRON_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minutes", 0, 59, ()),
    ("hours", 0, 23, ()),
    ("day-of-month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _DAYS),
    ("year", 1970, 2199, ()),
)
_CRON = re.compile(r"cron\(([^ ()]+( [^ ()]+)*)\)")


def _cron_value(text: str, low: int, high: int, names: tuple[str, ...]) -> int | None:
    if re.fullmatch(r"[0-9]{1,4}", text):
        number = int(text)
        return number if low <= number <= high else None
    if text.upper() in names:
        return names.index(text.upper()) + 1
    return None


def _cron_item(field: int, text: str) -> bool:
    _, low, high, names = _CRON_FIELDS[field]
    if field == 2 and (text in ("L", "LW") or (re.fullmatch(r"(L-)?[0-9]{1,2}W?", text) and _dom_special(text))):
        return True
    if field == 4:
        m = re.fullmatch(r"([0-9A-Za-z]{1,3})(L|#[1-5])", text)
        if text == "L" or (m is not None and _cron_value(m[1], low, high, names) is not None):
            return True
    base, slash, step = text.partition("/")
    if slash and not (re.fullmatch(r"[0-9]{1,4}", step) and 1 <= int(step) <= high):
        return False
    if base == "*":
        return True
    start, dash, end = base.partition("-")
    if _cron_value(start, low, high, names) is None:
        return False
    return not dash or _cron_value(end, low, high, names) is not None


def _dom_special(text: str) -> bool:
    """``L-3`` (third-last day), ``15W`` (weekday nearest the 15th): the number must be a day."""
    digits = re.sub(r"[^0-9]", "", text)
    if text.startswith("L-"):
        return not text.endswith("W") and 1 <= int(digits) <= 30
    return text.endswith("W") and 1 <= int(digits) <= 31


def parse_cron(expression: str) -> tuple[str, ...] | str:
    """The six fields of an AWS ``cron(...)`` expression, or a sentence saying what is wrong.

    Fields: minutes 0-59, hours 0-23, day-of-month 1-31 (``L``, ``W``), month 1-12 or JAN-DEC,
    day-of-week 1-7 or SUN-SAT (``L``, ``#``), year 1970-2199; lists (``,``), ranges (``-``),
    increments (``/``) and ``*``; exactly one of day-of-month and day-of-week is ``?``.
    """
    m = _CRON.fullmatch(expression)
    if m is None:
        return "expected 'cron(' six fields separated by single spaces ')'"
    fields = tuple(m[1].split(" "))
    if len(fields) != 6:
        return f"expected six fields (minutes hours day-of-month month day-of-week year), got {len(fields)}"
    problem = _field_problem(fields)
    return fields if problem is None else problem


def parse_window_cron(expression: str) -> tuple[str, ...] | str:
    """The fields of a CodePipeline ``DeploymentWindow`` ``Cron``, or a sentence saying what is wrong.

    Six required fields and an optional year, separated by single spaces (no ``cron(...)``
    wrapper): seconds (only ``*``), minutes, hours, day-of-month, month, day-of-week, year; the
    values and special characters of :func:`parse_cron`, and exactly one of day-of-month and
    day-of-week is ``?``
    (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html).
    """
    if not re.fullmatch(r"[^ ()]+( [^ ()]+)*", expression):
        return "expected fields separated by single spaces, without 'cron(...)'"
    fields = tuple(expression.split(" "))
    if len(fields) not in (6, 7):
        return (
            "expected six fields (seconds minutes hours day-of-month month day-of-week) and an optional year, "
            f"got {len(fields)}"
        )
    if fields[0] != "*":
        return f"the seconds field must be '*', got {fields[0]!r}"
    problem = _field_problem(fields[1:])
    return fields if problem is None else problem


def _field_problem(fields: tuple[str, ...]) -> str | None:
    """What is wrong with the minutes-to-year fields of a cron expression (the year optional), or ``None``."""
    for i, text in enumerate(fields):
        name, low, high, _ = _CRON_FIELDS[i]
        if text == "?":
            if i not in (2, 4):
                return f"'?' is allowed only in day-of-month or day-of-week, not in {name}"
            continue
        if not all(item and _cron_item(i, item) for item in text.split(",")):
            return f"{name} field {text!r} is invalid: expected values from {low} to {high}, '*', ',', '-', '/'"
    if (fields[2] == "?") == (fields[4] == "?"):
        return "exactly one of day-of-month and day-of-week must be '?'"
    return None
