"""What Open311 shows: services (categories citizens may choose) and the
public view of service requests (the cases ``publication`` publishes).

The public query loads only public columns: the reporter's name, phone and
email are never read, so they cannot leak into a response.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Subquery

from ..models import AttachmentKind, Case, CaseAttachment, Category, CategoryAttribute
from .publication import published

PUBLIC_FIELDS = (
    "id", "number", "status", "source", "reject_reason", "description", "address", "location",
    "created_at", "updated_at", "closed_at", "due_at", "stage", "suspended_at", "media_url",
    "category__code", "category__name", "category__name_en",
    "department__name", "department__name_en",
)  # fmt: skip


def services() -> QuerySet[Category]:
    """The categories citizens may choose, with their major class and whether
    they ask questions (Open311 ``metadata``)."""
    return (
        Category.objects.for_citizens()
        .select_related("major")
        .annotate(has_questions=Exists(CategoryAttribute.objects.filter(category=OuterRef("pk"))))
        .order_by("code")
    )


def service(code: str) -> Category | None:
    """One category citizens may choose, with its questions in order."""
    questions = CategoryAttribute.objects.order_by("order", "id")
    return (
        Category.objects.for_citizens()
        .select_related("major")
        .prefetch_related(Prefetch("attributes", queryset=questions))
        .filter(code=code)
        .first()
    )


def published_cases() -> QuerySet[Case]:
    """The cases anyone may read about: the public feed lists them."""
    return published(Case.objects.all())


def public_requests() -> QuerySet[Case]:
    """The cases the publication policy publishes (``publication.published``),
    public columns only, each with the id of its first report photo
    (``first_photo_id``): one query."""
    first_photo = (
        CaseAttachment.objects.filter(case=OuterRef("pk"), kind=AttachmentKind.REPORT)
        .exclude(sha256="")  # stored without metadata (older uploads were kept as sent)
        .order_by("id")
        .values("pk")[:1]
    )
    return (
        published_cases()
        .select_related("category", "department")
        .only(*PUBLIC_FIELDS)
        .annotate(first_photo_id=Subquery(first_photo))
        .order_by("-created_at", "-id")
    )


def known_service_codes(codes: list[str]) -> set[str]:
    """Which of ``codes`` name citizen-visible categories (in use or retired:
    their cases stay listed)."""
    return set(
        Category.objects.filter(code__in=codes, citizen_visible=True).values_list("code", flat=True)
    )


def request_of_token(token: str) -> Case | None:
    """The published case a tip's tracking token follows."""
    return (
        published_cases()
        .filter(tracking_token=token)
        .only("id", "number", "tracking_token")
        .first()
    )
