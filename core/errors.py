"""The base of every domain error. Each carries a machine-readable ``code``,
an HTTP ``status``, a message for people and, when one input was wrong, the
``field`` it names; the API's exception handler (core.api_errors) renders any
subclass in the one error shape without knowing the app that raised it."""

from __future__ import annotations


class DomainError(Exception):
    code = "invalid"
    status = 400

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    @property
    def fields(self) -> dict[str, list[str]] | None:
        return {self.field: [self.message]} if self.field else None
