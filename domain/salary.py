"""Salaries as postings, CVs and searches write them: amounts in any number format ("80,000", "80.000",
"80k", "80 Tsd."), currencies by symbol, word or ISO code, and the period paid for.

The one reader of money: the posting sources (a schema.org baseSalary, a salary line in the text), the
CV importer (the salary floor of the preferences) and the search reader ask here.
"""

from __future__ import annotations

import re
from typing import Any

from jobland.domain.models import MonetaryAmount

_CURRENCIES = (("EUR", r"€|\beur\b|\beuros?\b"), ("GBP", r"£|\bgbp\b"), ("USD", r"\$|\busd\b"), ("CHF", r"\bchf\b"))
_ISO_CODE = re.compile(r"\b[A-Z]{3}\b")
_UNITS = (
    ("HOUR", r"per hour|/\s*h(?:ou)?r\b|hourly|an hour|pro stunde|stundenlohn"),
    ("DAY", r"per day|/\s*day\b|daily|day rate|tagessatz"),
    ("WEEK", r"per week|/\s*week\b|weekly"),
    ("MONTH", r"per month|/\s*mo(?:nth)?\b|monthly|a month|monatlich|pro monat|/\s*monat"),
)
PERIODS = frozenset({"HOUR", "DAY", "WEEK", "MONTH", "YEAR"})
# "80,000", "80.000", "80 000", "80'000" (groups of three), "80.5", then "k", "Tsd." or "tausend".
AMOUNT = re.compile(r"(\d{1,3}(?:[.,' ]\d{3})+|\d+(?:[.,]\d+)?)\s*(k\b|tsd\.?|tausend)?", re.I)
_SALARY_LINE = re.compile(r"\b(?:salary|compensation|pay range|base pay|gehalt|vergütung)\b", re.I)


def amount_of(match: re.Match[str]) -> float:
    """The value of an AMOUNT match: "80.000" and "80,000" are eighty thousand, "80k" too."""
    number, thousands = match.group(1), match.group(2)
    if re.fullmatch(r"\d{1,3}(?:[.,' ]\d{3})+", number):
        value = float(re.sub(r"[.,' ]", "", number))
    else:
        value = float(number.replace(",", "."))
    return value * 1000 if thousands else value


def currency_in(text: str) -> str | None:
    """The currency a text names: a symbol or word ("€", "euros"), else an ISO code ("SEK")."""
    lowered = text.casefold()
    named = next((code for code, pattern in _CURRENCIES if re.search(pattern, lowered)), None)
    code = _ISO_CODE.search(text)
    return named or (code.group(0) if code else None)


def salary_from_text(text: str, currency: str | None = None) -> MonetaryAmount | None:
    """'80,000-95,000 EUR', '€80k–95k', '£45/hour', 'EUR 75.000 brutto/Jahr' -> a MonetaryAmount."""
    lowered = text.casefold()
    currency = currency or next((code for code, pattern in _CURRENCIES if re.search(pattern, lowered)), None)
    unit = next((name for name, pattern in _UNITS if re.search(pattern, lowered)), "YEAR")
    matches = [m for m in AMOUNT.finditer(text) if not text[m.end() :].lstrip().startswith("%")][:2]
    if not matches:
        return None
    values = [amount_of(m) for m in matches]
    # "80–95k": the k on the second number counts for the first.
    if len(matches) == 2 and matches[1].group(2) and not matches[0].group(2) and values[0] < 1000:
        values[0] *= 1000
    low, high = min(values), max(values)
    if high <= 0:
        return None
    return MonetaryAmount(currency=currency, minValue=low, maxValue=high, unitText=unit)


def _plain(value: Any) -> str:
    return str(value).strip() if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""


def parse_salary(value: Any, currency: str | None = None) -> MonetaryAmount | None:
    """A schema.org baseSalary (MonetaryAmount, with a QuantitativeValue or a number), a number or a string."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return MonetaryAmount(currency=currency, minValue=value, maxValue=value) if value > 0 else None
    if isinstance(value, str):
        return salary_from_text(value, currency) if value.strip() else None
    if not isinstance(value, dict):
        return None
    currency = _plain(value.get("currency")).upper() or currency
    inner = value.get("value")
    unit = _plain(value.get("unitText"))
    if isinstance(inner, dict):
        unit = _plain(inner.get("unitText")) or unit
        bounds = [parse_salary(inner.get(key), currency) for key in ("minValue", "maxValue", "value")]
        amounts = [a for a in bounds if a]
        if not amounts:
            return None
        parsed = MonetaryAmount(
            currency=currency,
            minValue=min(a.minValue or 0 for a in amounts),
            maxValue=max(a.maxValue or 0 for a in amounts),
        )
    else:
        parsed = parse_salary(inner, currency)
        if parsed is None:
            return None
    unit = unit.upper()
    return parsed.model_copy(update={"unitText": unit}) if unit in PERIODS else parsed


def salary_in_description(description: str) -> MonetaryAmount | None:
    """The salary a posting's text states on a line of its own ("Salary: 70.000–85.000 € brutto")."""
    for line in description.split("\n"):
        keyword = _SALARY_LINE.search(line)
        if keyword and re.search(r"\d", line) and any(re.search(p, line.casefold()) for _, p in _CURRENCIES):
            return salary_from_text(line[keyword.end() :])
    return None
