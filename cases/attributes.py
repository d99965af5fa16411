"""Answers to a category's questions (Open311 service definition attributes).

``clean_attributes`` checks what a reporter sent against the category's
``CategoryAttribute`` rows and returns the answers to store on the case:

    string           one line of at most 200 characters      → str
    text             at most 4,000 characters, line breaks ok → str
    number           a decimal number                        → int or float
    datetime         an ISO 8601 date or date and time       → ISO 8601 str
    singlevaluelist  one key of the list                     → str
    multivaluelist   one or more keys of the list            → list[str]

An empty answer counts as no answer (Open311: a parameter passed empty is
the same as one not passed). The result is accepted again as input, so
cleaning twice gives the same answers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from . import limits
from .errors import CaseInputError
from .models import AttributeType, Category, CategoryAttribute

MAX_STRING = limits.ATTRIBUTE_STRING
MAX_TEXT = limits.ATTRIBUTE_TEXT
MAX_NUMBER_CHARS = 40

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def unstorable_text(text: str) -> bool:
    """NUL and lone surrogates: PostgreSQL stores neither in text or jsonb."""
    return "\x00" in text or any("\ud800" <= ch <= "\udfff" for ch in text)


def _unstorable(value) -> bool:
    if isinstance(value, str):
        return unstorable_text(value)
    if isinstance(value, Mapping):
        return any(_unstorable(k) or _unstorable(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_unstorable(v) for v in value)
    return False


def clean_attributes(category: Category, raw: Mapping | None) -> dict:
    """The answers in ``raw`` (code → value or list of values), checked against
    the category's questions; raise ``CaseInputError`` naming
    ``attribute[code]`` on the first that is wrong, unknown or missing."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise CaseInputError(
            _("Answers are given as attribute[code]=value."), field="attribute", code="invalid"
        )
    if _unstorable(raw):
        raise CaseInputError(
            _("The answers contain characters that are not allowed."),
            field="attribute",
            code="invalid",
        )
    questions = {q.code: q for q in _questions(category)}
    for code in sorted(str(c) for c in raw if not _empty(raw[c])):
        question = questions.get(code)
        if question is None or not question.variable:
            raise CaseInputError(
                _("attribute[%(code)s]: service %(service)s asks no such question.")
                % {"code": code, "service": category.code},
                field=f"attribute[{code}]",
                code="unknown_attribute",
            )
    answers: dict = {}
    for code, question in questions.items():
        if not question.variable:
            continue
        values = _values(raw.get(code), code)
        if not values:
            if question.required:
                raise CaseInputError(
                    _("attribute[%(code)s] is required: %(question)s")
                    % {"code": code, "question": question_text(question)},
                    field=f"attribute[{code}]",
                    code="required",
                )
            continue
        answers[code] = _clean(question, values)
    return answers


def _questions(category: Category) -> list[CategoryAttribute]:
    # Use rows already loaded with prefetch_related("attributes") when there are.
    return list(category.attributes.all())


def question_text(question: CategoryAttribute) -> str:
    english = (get_language() or "").startswith("en")
    return (question.description_en if english else "") or question.description


def _empty(value) -> bool:
    if value is None:
        return True
    if isinstance(value, list | tuple):
        return all(_empty(v) for v in value)
    return isinstance(value, str) and not value.strip()


def _values(value, code: str) -> list[str]:
    """The non-empty values given for one question, as text."""
    items = list(value) if isinstance(value, list | tuple) else [value]
    out = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise CaseInputError(
                _("attribute[%(code)s] must be text.") % {"code": code},
                field=f"attribute[{code}]",
                code="invalid",
            )
        text = item.strip() if isinstance(item, str) else repr(item)
        if text:
            out.append(text)
    return out


def _error(question: CategoryAttribute, message: str, code: str) -> CaseInputError:
    return CaseInputError(message, field=f"attribute[{question.code}]", code=code)


def _one(question: CategoryAttribute, values: list[str]) -> str:
    if len(values) > 1:
        raise _error(
            question,
            _("attribute[%(code)s] takes one answer, not %(n)s.")
            % {"code": question.code, "n": len(values)},
            "invalid",
        )
    return values[0]


def _clean(question: CategoryAttribute, values: list[str]):
    code = question.code
    kind = question.datatype
    if kind == AttributeType.MULTI:
        return _choices(question, values)
    value = _one(question, values)
    if kind == AttributeType.STRING:
        if "\n" in value or "\r" in value:
            raise _error(
                question,
                _("attribute[%(code)s] is one line of text, without line breaks.") % {"code": code},
                "invalid",
            )
        return _limited(question, value, MAX_STRING)
    if kind == AttributeType.TEXT:
        return _limited(question, value.replace("\r\n", "\n"), MAX_TEXT)
    if kind == AttributeType.NUMBER:
        return _number(question, value)
    if kind == AttributeType.DATETIME:
        return _datetime(question, value)
    if kind == AttributeType.SINGLE:
        return _choices(question, [value])[0]
    raise _error(  # a question saved with a type this code does not know
        question,
        _("attribute[%(code)s] cannot be answered.") % {"code": code},
        "invalid",
    )


def _limited(question: CategoryAttribute, value: str, limit: int) -> str:
    if len(value) > limit:
        raise _error(
            question,
            _("attribute[%(code)s] is longer than %(limit)s characters.")
            % {"code": question.code, "limit": limit},
            "too_long",
        )
    return value


def _number(question: CategoryAttribute, value: str) -> int | float:
    invalid = _error(
        question,
        _("attribute[%(code)s] must be a number, such as 12 or 3.5; got “%(value)s”.")
        % {"code": question.code, "value": value[:MAX_NUMBER_CHARS]},
        "invalid_number",
    )
    if len(value) > MAX_NUMBER_CHARS or not _NUMBER.match(value):
        raise invalid
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise invalid from None
    if number == number.to_integral_value() and abs(number) < 10**15:
        return int(number)
    result = float(number)
    if not math.isfinite(result):
        raise invalid
    return result


def _datetime(question: CategoryAttribute, value: str) -> str:
    try:
        day = parse_date(value)
        moment = None if day else parse_datetime(value)
    except ValueError:
        day = moment = None
    if day is not None:
        return day.isoformat()
    if moment is not None:
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment.isoformat()
    raise _error(
        question,
        _(
            "attribute[%(code)s] must be an ISO 8601 date or date and time, "
            "such as 2025-05-01 or 2025-05-01T08:30:00+08:00."
        )
        % {"code": question.code},
        "invalid_datetime",
    )


def _choices(question: CategoryAttribute, values: list[str]) -> list[str]:
    keys = [str(v.get("key")) for v in question.values or () if isinstance(v, dict)]
    chosen: list[str] = []
    for value in values:
        if value not in keys:
            raise _error(
                question,
                _("attribute[%(code)s]: “%(value)s” is not one of the choices (%(keys)s).")
                % {"code": question.code, "value": value[:MAX_STRING], "keys": ", ".join(keys)},
                "invalid_choice",
            )
        if value not in chosen:
            chosen.append(value)
    return chosen


__all__ = ["clean_attributes"]
