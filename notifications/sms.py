"""Sending SMS through a pluggable backend, as Django sends email.

``settings.NOTIFICATIONS_SMS_BACKEND`` is the dotted path of a class with
``send_messages(messages) -> int``; it raises when the gateway refuses or
cannot be reached, so the caller records the failure and retries later.

    ConsoleBackend   writes each message to standard output (the default)
    LocmemBackend    keeps them in ``notifications.sms.outbox`` (tests)

A real gateway (Aliyun, Tencent Cloud SMS…) is a subclass of BaseBackend
configured with its keys from the environment.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

# Messages "sent" through the locmem backend.
outbox: list[SmsMessage] = []


@dataclass(frozen=True)
class SmsMessage:
    to: str
    text: str


class BaseBackend:
    def __init__(self, **options):
        self.options = options

    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        """Send ``messages``; the number sent. Raise on failure."""
        raise NotImplementedError


class ConsoleBackend(BaseBackend):
    _lock = threading.Lock()

    def __init__(self, *, stream=None, **options):
        super().__init__(**options)
        self.stream = stream or sys.stdout

    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        with self._lock:
            for message in messages:
                self.stream.write(f"SMS to {message.to}: {message.text}\n")
                logger.info("SMS to %s (%s characters)", message.to, len(message.text))
            self.stream.flush()
        return len(messages)


class LocmemBackend(BaseBackend):
    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        outbox.extend(messages)
        return len(messages)


def get_backend(path: str | None = None, **options) -> BaseBackend:
    backend = import_string(path or settings.NOTIFICATIONS_SMS_BACKEND)
    return backend(**{**getattr(settings, "NOTIFICATIONS_SMS_OPTIONS", {}), **options})


def send_sms(to: str, text: str, *, backend: BaseBackend | None = None) -> int:
    return (backend or get_backend()).send_messages([SmsMessage(to=to, text=text)])
