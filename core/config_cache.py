"""Configuration that every request reads, kept per process.

Categories, deadline rules and the working calendar change a few times a year
but are read by every report and transition. A ``ConfigCache`` holds what its
loader built from them: reloaded after an edit saved or deleted through the
ORM in this process, and at most ``CONFIG_CACHE_SECONDS`` (60) late for edits
made in another process or by a bulk update, which sends no signal.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import ClassVar, Generic, TypeVar

from django.conf import settings
from django.db.models.signals import post_delete, post_save

T = TypeVar("T")


class ConfigCache(Generic[T]):
    instances: ClassVar[list[ConfigCache]] = []

    def __init__(self, load: Callable[[], T], *, models: Iterable[type]):
        self._load = load
        self._entry: tuple[float, T] | None = None
        for model in models:
            post_save.connect(self.clear, sender=model, weak=False)
            post_delete.connect(self.clear, sender=model, weak=False)
        ConfigCache.instances.append(self)

    def get(self) -> T:
        # Threads may race to reload; each stores a complete value.
        entry, now = self._entry, time.monotonic()
        if entry is None or now - entry[0] > settings.CONFIG_CACHE_SECONDS:
            entry = self._entry = (now, self._load())
        return entry[1]

    def clear(self, **kwargs) -> None:
        self._entry = None

    @classmethod
    def clear_all(cls) -> None:
        """Forget every cached value (tests: a rolled-back edit sends no signal)."""
        for cache in cls.instances:
            cache.clear()
