"""Reading Open311 arguments: the filters of GET requests and the form of
POST requests. Bad input raises ``Open311Error`` with one entry per bad
argument, each naming it; the rules about cases stay in the services.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from .representations import CLOSED, OPEN

MAX_SPAN = dt.timedelta(days=90)
# Dates outside this range cannot be a case's; they would also overflow.
MIN_YEAR, MAX_YEAR = 1970, 2100
MAX_IDS = 1000
MAX_NAME = 100

_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")
# "+08:00" sent unencoded in a query string arrives as " 08:00".
_LOST_PLUS = re.compile(r"^(.*T\d\d:\d\d(:\d\d(\.\d+)?)?) (\d\d:?\d\d)$")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class Open311Error(Exception):
    """One or more errors, each ``(code, description)``; ``status`` is the HTTP status."""

    def __init__(self, status: int, errors: list[str] | str, *, headers: dict | None = None):
        errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("; ".join(str(e) for e in errors))
        self.status = status
        self.errors = [(status, str(e)) for e in errors]
        self.headers = headers or {}


def _values(params, name: str) -> list[str]:
    """Every comma-separated value of ``name`` (it may be given several times)."""
    out: list[str] = []
    for given in params.getlist(name):
        out.extend(v.strip() for v in given.split(",") if v.strip())
    return out


def parse_w3c(value: str, name: str, *, end: bool = False) -> dt.datetime:
    """A W3C date and time with its offset (``2010-01-01T00:00:00Z``), or a
    date alone (the start of that day, or its end for ``end_date``, in the
    server's time zone)."""
    text = value.strip()
    if match := _LOST_PLUS.match(text):
        text = f"{match.group(1)}+{match.group(4)}"
    try:
        day = parse_date(text)
        moment = None if day else parse_datetime(text)
    except ValueError:
        day = moment = None
    if (day or moment) is not None and not MIN_YEAR <= (day or moment).year <= MAX_YEAR:
        raise Open311Error(
            400,
            _("%(name)s must be a date between %(min)s and %(max)s.")
            % {"name": name, "min": MIN_YEAR, "max": MAX_YEAR},
        )
    if day is not None:
        start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
        return start + dt.timedelta(days=1) - dt.timedelta(microseconds=1) if end else start
    if moment is None:
        raise Open311Error(
            400,
            _("%(name)s must be a W3C date and time such as 2010-01-01T00:00:00Z; got “%(value)s”.")
            % {"name": name, "value": value[:40]},
        )
    if timezone.is_naive(moment):
        raise Open311Error(
            400,
            _("%(name)s needs its time zone: Z or an offset such as +08:00.") % {"name": name},
        )
    return moment


@dataclass
class RequestFilter:
    ids: list[str] = field(default_factory=list)
    service_codes: list[str] = field(default_factory=list)
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    statuses: list[str] = field(default_factory=list)


def request_filter(params, *, now: dt.datetime) -> RequestFilter:
    """The filters of GET requests. ``service_request_id`` overrides all
    others; otherwise the dates span at most 90 days, the most recent 90 days
    when neither is given."""
    ids = _values(params, "service_request_id")
    if ids:
        if len(ids) > MAX_IDS:
            raise Open311Error(
                400,
                _("service_request_id lists at most %(n)s ids.") % {"n": MAX_IDS},
            )
        return RequestFilter(ids=ids)
    errors: list[str] = []
    start = end = None
    for name in ("start_date", "end_date"):
        value = params.get(name, "").strip()
        if not value:
            continue
        try:
            moment = parse_w3c(value, name, end=name == "end_date")
        except Open311Error as exc:
            errors.extend(d for _c, d in exc.errors)
            continue
        if name == "start_date":
            start = moment
        else:
            end = moment
    statuses = []
    for status in _values(params, "status"):
        if status not in (OPEN, CLOSED):
            errors.append(
                _("status must be open or closed (comma-separated); got “%(value)s”.")
                % {"value": status[:40]}
            )
        elif status not in statuses:
            statuses.append(status)
    if errors:
        raise Open311Error(400, errors)
    if start is None and end is None:
        end = now
        start = now - MAX_SPAN
    elif start is None:
        start = end - MAX_SPAN
    elif end is None:
        end = start + MAX_SPAN
    if end < start:
        raise Open311Error(400, _("end_date is before start_date."))
    if end - start > MAX_SPAN:
        raise Open311Error(
            400,
            _("start_date and end_date may not span more than 90 days (asked for %(days)s).")
            % {"days": (end - start).days},
        )
    return RequestFilter(
        service_codes=_values(params, "service_code"), start=start, end=end, statuses=statuses
    )


# --- POST requests ------------------------------------------------------------------


@dataclass
class Submission:
    service_code: str
    description: str
    lat: float | None
    lng: float | None
    address: str
    email: str
    phone: str
    name: str
    media_url: str
    account_id: str
    attributes: dict


def _number(params, name: str, low: float, high: float, errors: list[str]) -> float | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        errors.append(
            _("%(name)s must be a number in decimal degrees (WGS-84); got “%(value)s”.")
            % {"name": name, "value": value[:40]}
        )
        return None
    if not low <= number <= high:
        errors.append(
            _("%(name)s must be between %(low)s and %(high)s; got %(value)s.")
            % {"name": name, "low": int(low), "high": int(high), "value": value[:40]}
        )
        return None
    return number


def reporter_name(first_name: str, last_name: str) -> str:
    """Family name first, as staff read names: 张 + 三 → 张三; Smith + John →
    "Smith John" (a space unless both parts are Chinese)."""
    first, last = first_name.strip(), last_name.strip()
    if not first or not last:
        return first or last
    joiner = "" if _CJK.search(first) and _CJK.search(last) else " "
    return f"{last}{joiner}{first}"


def attributes(params) -> tuple[dict, list[str]]:
    """``attribute[code]=value`` and ``attribute[code][]=value`` (repeated
    for a multivaluelist) as {code: value or [values]}."""
    answers: dict = {}
    errors: list[str] = []
    for key in params:
        if not key.startswith("attribute"):
            continue
        match = _ATTRIBUTE.match(key)
        if not match:
            errors.append(
                _("%(key)s: answers are sent as attribute[code]=value.") % {"key": key[:60]}
            )
            continue
        code, many = match.group(1), match.group(2)
        values = params.getlist(key)
        if code in answers:
            before = answers[code] if isinstance(answers[code], list) else [answers[code]]
            answers[code] = before + values
        elif many or len(values) > 1:
            answers[code] = values
        else:
            answers[code] = values[0]
    return answers, errors


def submission(params, *, has_media: bool) -> Submission:
    """The form of POST requests; every bad argument is reported at once."""
    errors: list[str] = []
    code = params.get("service_code", "").strip()
    if not code:
        errors.append(_("service_code is required."))
    description = params.get("description", "")
    if not description.strip():
        errors.append(_("description is required: say what the problem is."))
    lat = _number(params, "lat", -90, 90, errors)
    lng = _number(params, "long", -180, 180, errors)
    given = {n for n in ("lat", "long") if params.get(n, "").strip()}
    if given == {"lat"}:
        errors.append(_("long is required with lat."))
    elif given == {"long"}:
        errors.append(_("lat is required with long."))
    elif not given and not has_media:
        errors.append(
            _(
                "lat and long are required: this server cannot geocode address_string "
                "or address_id (or send a media photo carrying the camera's GPS position)."
            )
        )
    email = params.get("email", "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors.append(_("email is not a valid email address."))
    first, last = params.get("first_name", ""), params.get("last_name", "")
    name = reporter_name(first, last)
    if len(name) > MAX_NAME:
        errors.append(
            _("first_name and last_name are longer than %(n)s characters together.")
            % {"n": MAX_NAME}
        )
    answers, attribute_errors = attributes(params)
    errors.extend(attribute_errors)
    if errors:
        raise Open311Error(400, errors)
    return Submission(
        service_code=code,
        description=description,
        lat=lat,
        lng=lng,
        address=params.get("address_string", "").strip(),
        email=email,
        phone=params.get("phone", "").strip(),
        name=name,
        media_url=params.get("media_url", "").strip(),
        account_id=params.get("account_id", "").strip()[:100],
        attributes=answers,
    )
