"""Finding English left on a page rendered in Chinese: every text a reader
sees or hears (text nodes, and the attributes that carry words: labels,
alternative texts, the messages a script shows) is searched for English
words. Codes, numbers and addresses are not words; the language menu names
English on purpose."""

from __future__ import annotations

import re
from html.parser import HTMLParser

WORD = re.compile(r"\b[A-Za-z]{3,}\b")  # not codes such as wgs84
# Shown as they are in any language.
ALLOWED = {"English", "MB", "QR"}
SPOKEN_ATTRIBUTES = {"alt", "title", "aria-label", "placeholder", "label"}
SKIPPED_ELEMENTS = {"script", "style", "svg"}


class _Words(HTMLParser):
    def __init__(self):
        super().__init__()
        self.skipping = 0
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in SKIPPED_ELEMENTS:
            self.skipping += 1
        for name, value in attrs:
            if value and (name in SPOKEN_ATTRIBUTES or (name.startswith("data-") and " " in value)):
                self._search(value)

    def handle_endtag(self, tag):
        if tag in SKIPPED_ELEMENTS and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self._search(data)

    def _search(self, text: str):
        text = re.sub(r"https?://\S+", "", text)
        self.found += [w for w in WORD.findall(text) if w not in ALLOWED]


def english_words(html: str) -> list[str]:
    """The English words a reader of ``html`` would meet."""
    parser = _Words()
    parser.feed(html)
    return parser.found
