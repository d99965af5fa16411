"""Finding a category on a phone: by a word of its name (Chinese or English),
by its code, or by the pinyin initials of its Chinese name (井盖 -> jg), which
is how people type fastest on a phone keyboard."""

from __future__ import annotations

import functools

from pypinyin import Style, lazy_pinyin


@functools.lru_cache(maxsize=4096)
def pinyin_initials(name: str) -> str:
    """The first letters of each character's pinyin, lower case; other
    characters (letters, digits) as they are."""
    return "".join(lazy_pinyin(name, style=Style.FIRST_LETTER)).replace(" ", "").lower()


def search_text(category) -> str:
    """What a typed search is matched against: lower case, words joined by
    "_" (the page's script writes a query the same way), so it is one token
    for screen readers and checks of the page's words."""
    words = [category.code, category.name, category.name_en or "", pinyin_initials(category.name)]
    words += [category.major.name, pinyin_initials(category.major.name)]
    return "|".join(words).lower().replace(" ", "_")
