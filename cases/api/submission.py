"""Safe resubmission over HTTP: the Idempotency-Key header (or a client_uuid
field where a client cannot set headers) names one submission; a retry with
the same key and the same content returns the first result with 200 and
``Idempotent-Replayed: true`` instead of filing a second case."""

from __future__ import annotations

from django.utils.translation import gettext as _

from ..errors import CaseInputError

HEADER = "Idempotency-Key"


def idempotency_key(request, body_value: str | None) -> str | None:
    header = request.headers.get(HEADER)
    if header is not None and body_value is not None and header != body_value:
        raise CaseInputError(
            _("The Idempotency-Key header and client_uuid differ; send one key."),
            field="client_uuid",
        )
    key = header if header is not None else body_value
    return key.strip() if key is not None else None


def replay_headers(case) -> dict[str, str]:
    return {"Idempotent-Replayed": "true"} if getattr(case, "replayed", False) else {}
