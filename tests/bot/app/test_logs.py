"""Secrets never reach a log line, whatever logs them and however."""

from __future__ import annotations

import logging

import pytest

from bot.app.logs import RedactingFilter, redact, setup_logging

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def test_redact_known_secret_and_token_shapes() -> None:
    url = f"POST https://api.telegram.org/bot{TOKEN}/sendMessage"
    assert TOKEN not in redact(url)
    assert "bot***" in redact(url)
    hook = "https://discord.com/api/webhooks/1234/abcdefghijklmnopqrstuvwxyz0123456789"
    assert "abcdefghijklmnopqrstuvwxyz" not in redact(hook)
    assert redact("password is hunter2", ["hunter2"]) == "password is ***"


def test_filter_redacts_args_and_exceptions(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("liqwatch.test.redaction")
    log.addFilter(RedactingFilter(["s3cr3t-value"]))
    try:
        with caplog.at_level(logging.DEBUG, logger="liqwatch.test.redaction"):
            log.info("HTTP Request: %s %s", "POST", f"https://x/bot{TOKEN}/getMe")
            try:
                raise RuntimeError("failed with s3cr3t-value inside")
            except RuntimeError:
                log.exception("boom")
    finally:
        log.filters.clear()
    text = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert TOKEN not in text
    assert "s3cr3t-value" not in text
    assert "getMe" in text


def test_setup_quiets_httpx_and_is_idempotent() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        setup_logging("INFO", secrets=[TOKEN])
        handler = setup_logging("INFO", secrets=[TOKEN])
        ours = [h for h in root.handlers if getattr(h, "_liqwatch", False)]
        assert ours == [handler]
        assert logging.getLogger("httpx").level == logging.WARNING
    finally:
        for h in list(root.handlers):
            if h not in before:
                root.removeHandler(h)
        root.setLevel(level)
