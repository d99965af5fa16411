"""nginx's own error answers (core/gateway_errors.py): written from the
application's template and catalogue for every language, in the API's error
format and as a page. (Served through nginx: tests/e2e/test_http_through_nginx.py.)"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management import call_command
from django.utils import translation

from core.gateway_errors import GATEWAY_ERRORS


def test_every_answer_is_written_in_every_language(tmp_path):
    call_command("render_gateway_errors", "--output", str(tmp_path), verbosity=0)

    assert {e.status for e in GATEWAY_ERRORS} == {413, 502, 503, 504}
    for language, _name in settings.LANGUAGES:
        for error in GATEWAY_ERRORS:
            with translation.override(language):
                message, title = str(error.message), str(error.title)
            body = json.loads((tmp_path / language / f"{error.status}.json").read_text())
            page = (tmp_path / language / f"{error.status}.html").read_text()

            assert body == {"error": {"code": error.code, "message": message}}
            assert f'<html lang="{language}">' in page
            assert message in page and f"<h2>{title}</h2>" in page


def test_the_chinese_answers_are_translated(tmp_path):
    call_command("render_gateway_errors", "--output", str(tmp_path), verbosity=0)

    for error in GATEWAY_ERRORS:
        chinese = json.loads((tmp_path / "zh-hans" / f"{error.status}.json").read_text())
        english = json.loads((tmp_path / "en" / f"{error.status}.json").read_text())
        assert chinese["error"]["message"] != english["error"]["message"], error.code
        assert not chinese["error"]["message"].isascii(), error.code
