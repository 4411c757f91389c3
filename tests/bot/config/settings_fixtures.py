"""Secrets, the example config and config-writing helpers shared by the settings tests."""

from __future__ import annotations

from pathlib import Path

from bot.config.settings import check_config
from tests.paths import REPO_ROOT

EXAMPLE = REPO_ROOT / "config.example.toml"
TG_TOKEN = "123456789:AAF-telegram-secret-value_xyz"
DC_TOKEN = "discord.bot-token.secret-value"
WEBHOOK_SECRET = "webhook-token-secret-abcdefgh" + "_0123456789" * 4
WEBHOOK = f"https://discord.com/api/webhooks/420000000000000042/{WEBHOOK_SECRET}"
ALL_SECRETS = {
    "LIQWATCH__TELEGRAM__TOKEN": TG_TOKEN,
    "LIQWATCH__DISCORD__TOKEN": DC_TOKEN,
    "LIQWATCH__DISCORD__WEBHOOK_URL": WEBHOOK,
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    return check_config(write(tmp_path, text), env or {})
