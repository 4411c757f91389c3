"""config.live.example.toml — the README's "Going live" configuration — validates as shipped,
with its commented [[threads]] block and with Discord switched on (fake tokens in the env)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config.settings import ConfigError, load_settings
from tests.paths import REPO_ROOT

LIVE = REPO_ROOT / "config.live.example.toml"
TELEGRAM = {"LIQWATCH__TELEGRAM__TOKEN": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"}
WEBHOOK = (
    "https://discord.com/api/webhooks/123456789012345678/"
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_abcdefgh"
)


def test_the_live_example_validates_with_a_token_in_the_environment() -> None:
    settings = load_settings(LIVE, env=TELEGRAM)
    market = settings.market
    assert market.source == "ccxt"
    assert tuple(market.exchanges) == ("binanceusdm", "bybit", "okx")
    assert tuple(market.symbols) == ("BTC", "ETH", "SOL")
    assert {settings.exchange(ex).rate_limit for ex in market.exchanges} == {True}
    assert settings.telegram.enabled and settings.telegram.token is not None
    assert not settings.discord.enabled
    assert settings.storage.path == Path("liqwatch.sqlite3")


def test_without_the_token_it_says_which_variable_to_set() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(LIVE, env={})
    assert any("LIQWATCH__TELEGRAM__TOKEN" in p for p in info.value.problems)


def test_its_commented_threads_block_and_discord_validate_too(tmp_path: Path) -> None:
    text = LIVE.read_text(encoding="utf-8")
    block = text[text.index("# [[threads]]") :]
    uncommented = re.sub(r"^# ?", "", block, flags=re.MULTILINE)
    live = text[: text.index("# [[threads]]")] + uncommented
    assert live.count("enabled = false") == 1  # [discord]'s
    live = live.replace("enabled = false", "enabled = true")
    path = tmp_path / "config.toml"
    path.write_text(live, encoding="utf-8")
    settings = load_settings(path, env={**TELEGRAM, "LIQWATCH__DISCORD__WEBHOOK_URL": WEBHOOK})
    assert settings.discord.enabled and settings.discord.webhook_url is not None
    (thread,) = settings.threads
    assert thread.platform == "telegram" and thread.symbol == "BTC" and thread.only_on_change


def test_check_config_accepts_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.app.cli import main

    monkeypatch.setenv(*next(iter(TELEGRAM.items())))
    assert main(["check-config", str(LIVE)]) == 0
    assert capsys.readouterr().out.strip() == f"{LIVE}: OK"
