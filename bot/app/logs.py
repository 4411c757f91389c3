"""Logging set-up: one format, secrets redacted from every record, noisy libraries quieted.

httpx logs every request URL at INFO, and a Telegram Bot API URL carries the bot token
(``/bot<token>/sendMessage``); discord webhook URLs carry theirs too. Every handler we
install therefore gets a :class:`RedactingFilter` that replaces each known secret, and any
``bot<digits>:<token>`` or ``/webhooks/<id>/<token>`` shape, with ``***``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from typing import Any, ClassVar

__all__ = ["RedactingFilter", "redact", "setup_logging"]

_TOKEN_SHAPES = (
    re.compile(r"(?<=bot)\d{5,}:[A-Za-z0-9_-]{20,}"),  # Telegram bot token in a URL
    re.compile(r"(?<=/webhooks/)(\d+)/[A-Za-z0-9_.-]{20,}"),  # Discord webhook token
    re.compile(r"(?i)(?<=authorization': ')(bot )?[A-Za-z0-9_.-]{20,}"),
)

_QUIET = (
    "httpx",
    "httpcore",
    "telegram.ext.Updater",
    "discord.gateway",
    "discord.http",
    "ccxt",
    "matplotlib",
    "PIL",
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret and every token-shaped substring replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    for shape in _TOKEN_SHAPES:
        text = shape.sub("***", text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (args folded in) with secrets redacted."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self._secrets)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._secrets)
        if cleaned != message or record.args:
            record.msg = cleaned
            record.args = None
        return True


class _JsonFormatter(logging.Formatter):
    _FIELDS: ClassVar[tuple[str, ...]] = ("name", "levelname", "message")

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            payload["exc"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False)


def setup_logging(
    level: str = "INFO", *, secrets: Iterable[str] = (), json_lines: bool = False
) -> logging.Handler:
    """Install one stderr handler on the root logger with redaction; returns the handler."""
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_liqwatch", False):
            root.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler._liqwatch = True  # type: ignore[attr-defined]
    handler.addFilter(RedactingFilter(secrets))
    if json_lines:
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root.addHandler(handler)
    root.setLevel(level.upper())
    quiet_level = logging.WARNING if root.level > logging.DEBUG else logging.INFO
    for name in _QUIET:
        logging.getLogger(name).setLevel(quiet_level)
    return handler
