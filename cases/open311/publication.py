"""What the public Open311 feed publishes: ``settings.OPEN311_PUBLICATION``
(docs/open311.md, "What is published").

    statuses       the statuses whose cases are listed (default: registered
                   and every later one; never reported, never rejected)
    exact_sources  the sources whose cases are shown as filed: their own
                   description and address, the exact point, the report
                   photo (default: citizen tips)
    decimals       the decimal places of a degree that the point of any other
                   case (hotline, grid worker, sensor) is rounded to; its
                   description is the category's name, its address and photo
                   are left out (default 3: about 111 m north-south)

Only categories citizens may see (``citizen_visible``) are ever published.
The list, one request, tokens and both formats all read these rules here.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet

from ..models import Case, Source, Status


@dataclass(frozen=True)
class Publication:
    statuses: tuple[str, ...]
    exact_sources: frozenset[str]
    decimals: int


def publication() -> Publication:
    """The configured rules, checked (a typo must not publish or hide a
    whole class of cases silently)."""
    conf = settings.OPEN311_PUBLICATION
    statuses = tuple(conf["statuses"])
    exact_sources = frozenset(conf["exact_sources"])
    decimals = conf["decimals"]
    unknown = (set(statuses) - set(Status.values)) | (exact_sources - set(Source.values))
    if unknown:
        raise ImproperlyConfigured(
            f"OPEN311_PUBLICATION names no such status or source: {', '.join(sorted(unknown))}"
        )
    if not isinstance(decimals, int) or not 0 <= decimals <= 7:
        raise ImproperlyConfigured("OPEN311_PUBLICATION decimals must be a whole number 0-7.")
    return Publication(statuses, exact_sources, decimals)


def published(cases: QuerySet[Case]) -> QuerySet[Case]:
    """``cases`` narrowed to those the public feed may show."""
    return cases.filter(category__citizen_visible=True, status__in=publication().statuses)


def published_as_filed(cases: QuerySet[Case]) -> QuerySet[Case]:
    """``cases`` narrowed to those the public feed shows as filed, with their
    own text and report photo: only their public photos are anyone's."""
    return published(cases).filter(source__in=publication().exact_sources)


def shown_as_filed(case: Case) -> bool:
    """Whether ``case`` is published with its own text, point and photo;
    otherwise it is generalised (``generalised_point``, the category's name)."""
    return case.source in publication().exact_sources


def generalised_point(case: Case) -> tuple[float, float]:
    """(lat, long) of a generalised case, rounded to the configured places."""
    decimals = publication().decimals
    return round(case.location.y, decimals), round(case.location.x, decimals)
