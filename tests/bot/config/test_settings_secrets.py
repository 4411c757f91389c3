"""bot.config.settings secrets: read only from the environment, validated, never printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.settings import Secret, load_settings
from tests.bot.config.settings_fixtures import (
    ALL_SECRETS,
    TG_TOKEN,
    WEBHOOK,
    WEBHOOK_SECRET,
    problems,
    write,
)

# --- secrets -----------------------------------------------------------------------------------


def test_enabled_platform_without_its_secret(tmp_path: Path) -> None:
    found = problems(tmp_path, "[telegram]\nenabled = true\n[discord]\nenabled = true\n")
    assert found == [
        "telegram.enabled: true but LIQWATCH__TELEGRAM__TOKEN is not set in the environment",
        "discord.enabled: true but neither LIQWATCH__DISCORD__TOKEN nor "
        "LIQWATCH__DISCORD__WEBHOOK_URL is set in the environment",
    ]
    webhook_only = {"LIQWATCH__DISCORD__WEBHOOK_URL": WEBHOOK, "LIQWATCH__TELEGRAM__TOKEN": "  "}
    assert problems(tmp_path, "[discord]\nenabled = true\n", webhook_only) == []


def test_secret_in_the_file_is_rejected(tmp_path: Path) -> None:
    found = problems(
        tmp_path, f'[telegram]\ntoken = "{TG_TOKEN}"\n[discord]\nwebhook_url = "{WEBHOOK}"\n'
    )
    assert found == [
        "telegram.token: secrets are not read from the file, remove it and set "
        "LIQWATCH__TELEGRAM__TOKEN in the environment",
        "discord.webhook_url: secrets are not read from the file, remove it and set "
        "LIQWATCH__DISCORD__WEBHOOK_URL in the environment",
    ]
    assert not any(TG_TOKEN in p or WEBHOOK in p for p in found)


def test_malformed_secrets(tmp_path: Path) -> None:
    env = {"LIQWATCH__TELEGRAM__TOKEN": "not a token", "LIQWATCH__DISCORD__WEBHOOK_URL": "nope"}
    found = problems(tmp_path, "", env)
    assert [p.split(":")[0] for p in found] == ["telegram.token", "discord.webhook_url"]
    assert not any(
        "not a token" in p.split(":", 1)[1].replace("is not a bot token", "") for p in found
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://discord.com/api/webhooks/42/webhook-token",  # id and token too short
        "https://discord.com/api/v10/webhooks/420000000000000042/" + "t" * 68,  # a version
        "https://example.com/api/webhooks/420000000000000042/" + "t" * 68,  # not Discord
        "ftp://discord.com/api/webhooks/420000000000000042/" + "t" * 68,
        "https://discord.com/channels/420000000000000042/" + "t" * 68,
    ],
)
def test_a_webhook_url_discord_py_would_refuse_is_refused_here(tmp_path: Path, url: str) -> None:
    (found,) = problems(tmp_path, "", {"LIQWATCH__DISCORD__WEBHOOK_URL": url})
    assert found.startswith(
        "discord.webhook_url: LIQWATCH__DISCORD__WEBHOOK_URL is not a Discord webhook URL, "
        "use https://discord.com/api/webhooks/<id>/<token>"
    )
    assert url not in found and "t" * 60 not in found  # the secret is not echoed


def test_the_webhook_url_discord_shows_is_accepted(tmp_path: Path) -> None:
    for host in ("discord.com", "discordapp.com", "canary.discord.com", "ptb.discord.com"):
        url = f"https://{host}/api/webhooks/1234567890123456789/{WEBHOOK_SECRET}"
        assert problems(tmp_path, "", {"LIQWATCH__DISCORD__WEBHOOK_URL": url}) == []


def test_secrets_never_print(tmp_path: Path) -> None:
    path = write(tmp_path, "[telegram]\nenabled = true\n[discord]\nenabled = true\n")
    settings = load_settings(path, ALL_SECRETS)
    assert settings.telegram.token is not None
    assert settings.telegram.token.get_secret_value() == TG_TOKEN
    shown = " ".join(
        [
            repr(settings),
            str(settings),
            repr(settings.telegram),
            repr(settings.discord),
            str(settings.telegram.token),
            repr(settings.discord.webhook_url),
            f"{settings.discord.token}",
            str(settings.model_dump()),
            settings.model_dump_json(),
        ]
    )
    for secret in ALL_SECRETS.values():
        assert secret not in shown
    assert "webhook-token-secret-abcdefgh" not in shown
    assert str(Secret("x")) == "***" and repr(Secret("x")) == "Secret('***')"
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")


def test_redactions_list_every_secret_longest_first() -> None:
    redactions = load_settings(None, ALL_SECRETS).redactions()
    assert set(redactions) == {*ALL_SECRETS.values(), WEBHOOK_SECRET}
    assert [len(r) for r in redactions] == sorted((len(r) for r in redactions), reverse=True)
