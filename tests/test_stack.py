"""The servers' configuration (governance/stack.py): nginx's is rendered
completely from the templates in deploy/ and nginx itself accepts it."""

from __future__ import annotations

import subprocess

import pytest

from governance.stack import PHOTOS_PREFIX, Stack, StackFailed, render


def stack(tmp_path, **environ) -> Stack:
    return Stack(
        state_dir=tmp_path,
        static_root=tmp_path / "static",
        media_root=tmp_path / "media",
        port=18999,
        environ={"PATH": "/usr/sbin:/usr/bin:/bin", **environ},
    )


def test_nginx_accepts_the_rendered_configuration(tmp_path):
    servers = stack(tmp_path, FORWARDED_ALLOW_IPS="10.0.0.5, 10.1.0.0/16")
    conf = servers.render_nginx()
    nginx = servers.commands()["nginx"]

    checked = subprocess.run(
        [*nginx[: nginx.index("-g")], "-t"], capture_output=True, text=True, check=False
    )

    assert checked.returncode == 0, checked.stderr
    text = conf.read_text() + (conf.parent / "app_proxy.conf").read_text()
    assert "${" not in text
    assert "set_real_ip_from 10.0.0.5;" in text and "set_real_ip_from 10.1.0.0/16;" in text
    assert "        10.0.0.5 1;\n        10.1.0.0/16 1;\n" in text  # may say X-Forwarded-Proto
    assert f"location {PHOTOS_PREFIX} {{\n            internal;" in text
    assert f"alias {tmp_path / 'media'}/;" in text
    assert f"pid {tmp_path / 'nginx'}/nginx.pid;" in text


def test_nginx_trusts_no_forwarding_proxy_unless_configured(tmp_path):
    conf = stack(tmp_path).render_nginx()
    text = conf.read_text() + (conf.parent / "app_proxy.conf").read_text()

    assert "set_real_ip_from" not in text
    assert "default 0;\n        \n    }" in text  # no peer may say X-Forwarded-Proto


def test_the_backends_trust_nginx_alone(tmp_path):
    servers = stack(tmp_path, FORWARDED_ALLOW_IPS="10.0.0.5", NUM_PROXIES="3")
    backend = servers.backend_environ()
    uvicorn = servers.commands()["uvicorn"]

    assert backend["FORWARDED_ALLOW_IPS"] == "127.0.0.1"
    assert backend["NUM_PROXIES"] == "1"
    assert backend["PHOTOS_ACCEL_REDIRECT_PREFIX"] == PHOTOS_PREFIX
    assert uvicorn[uvicorn.index("--forwarded-allow-ips") + 1] == "127.0.0.1"


def test_a_template_value_left_unset_is_refused():
    assert render("listen ${LISTEN}; set $x $host;", {"LISTEN": "1.2.3.4:80"}) == (
        "listen 1.2.3.4:80; set $x $host;"
    )
    with pytest.raises(StackFailed, match="LISTEN"):
        render("listen ${LISTEN};", {})


def test_the_stack_writes_nginxs_own_answers_where_nginx_reads_them(tmp_path):
    servers = stack(tmp_path, DJANGO_SETTINGS_MODULE="governance.settings.test")
    conf = servers.render_nginx().read_text()
    servers.render_gateway_errors()

    assert f"alias {servers.gateway_errors}/$gateway_language/$gateway_page;" in conf
    written = sorted(
        p.relative_to(servers.gateway_errors).as_posix()
        for p in servers.gateway_errors.rglob("*.*")
    )
    assert written == sorted(
        f"{language}/{status}.{kind}"
        for language in ("en", "zh-hans")
        for status in (413, 502, 503, 504)
        for kind in ("html", "json")
    )


def test_a_failure_to_write_them_stops_the_stack(tmp_path):
    servers = stack(tmp_path, DJANGO_SETTINGS_MODULE="no.such.settings")

    with pytest.raises(StackFailed, match="render_gateway_errors"):
        servers.render_gateway_errors()
