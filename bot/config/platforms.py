"""The chat-platform sections, [telegram] and [discord]: options from the file, secrets
from the environment only (``LIQWATCH__TELEGRAM__TOKEN``, ``LIQWATCH__DISCORD__TOKEN``,
``LIQWATCH__DISCORD__WEBHOOK_URL``), each checked for the shape the platform accepts."""

from __future__ import annotations

import re
from typing import Annotated, Final
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from bot.config.fields import (
    AsTuple,
    DurationRange,
    FieldProblems,
    HttpUrl,
    Secret,
    Section,
    Symbol,
    WsUrl,
)

__all__ = ["DiscordSettings", "TelegramSettings"]

_H, _D = 3_600_000, 86_400_000


class TelegramSettings(Section):
    """Telegram bot ([telegram]); the token comes from LIQWATCH__TELEGRAM__TOKEN only."""

    enabled: bool = False
    api_base_url: HttpUrl = "https://api.telegram.org/bot"
    admin_ids: Annotated[tuple[int, ...], AsTuple] = ()
    default_symbol: Symbol = "BTC"
    default_range: Annotated[int, DurationRange(_H, 400 * _D)] = 24 * _H
    token: Secret | None = Field(default=None, repr=False)

    @model_validator(mode="after")
    def _enabled_needs_token(self) -> TelegramSettings:
        if self.enabled and self.token is None:
            raise FieldProblems.one(
                "enabled", "true but LIQWATCH__TELEGRAM__TOKEN is not set in the environment"
            )
        if self.token is not None and not re.fullmatch(r"\d+:\S+", self.token.get_secret_value()):
            raise FieldProblems.one(
                "token",
                "LIQWATCH__TELEGRAM__TOKEN is not a bot token, use '<bot id>:<secret>' from @BotFather",
            )
        return self


#: a webhook URL as discord.py reads it: .../api/webhooks/<17–20 digit id>/<token of 60+>
_DISCORD_WEBHOOK_URL: Final = re.compile(
    r"discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/[A-Za-z0-9.\-_]{60,}"
)


class DiscordSettings(Section):
    """Discord bot and/or webhook ([discord]); secrets come from the environment only."""

    enabled: bool = False
    api_base_url: HttpUrl = "https://discord.com/api/v10"
    gateway_url: WsUrl = "wss://gateway.discord.gg"
    admin_channel_id: Annotated[int, Field(gt=0)] | None = None
    token: Secret | None = Field(default=None, repr=False)
    webhook_url: Secret | None = Field(default=None, repr=False)

    @model_validator(mode="after")
    def _enabled_needs_credentials(self) -> DiscordSettings:
        problems: list[tuple[str, str]] = []
        if self.enabled and self.token is None and self.webhook_url is None:
            problems.append(
                (
                    "enabled",
                    "true but neither LIQWATCH__DISCORD__TOKEN nor LIQWATCH__DISCORD__WEBHOOK_URL is set in the environment",
                )
            )
        if self.webhook_url is not None:
            value = self.webhook_url.get_secret_value()
            url = urlsplit(value)
            # what discord.py's Webhook.from_url accepts (it refuses anything else at run time)
            if url.scheme not in ("http", "https") or not _DISCORD_WEBHOOK_URL.search(value):
                problems.append(
                    (
                        "webhook_url",
                        "LIQWATCH__DISCORD__WEBHOOK_URL is not a Discord webhook URL, use "
                        "https://discord.com/api/webhooks/<id>/<token> as Discord shows it "
                        "(channel settings → Integrations → Webhooks → Copy Webhook URL)",
                    )
                )
        if problems:
            raise FieldProblems(problems)
        return self
