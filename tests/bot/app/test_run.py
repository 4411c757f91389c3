"""`liqwatch run` as a real process against the loopback fake Telegram Bot API.

The bot runs in a subprocess (its own event loop, signals, SQLite file) on the synthetic
market; the test process plays Telegram. These tests cover what only the whole process
shows: start-up checks, answering commands, pushing an alert, graceful SIGTERM, a SIGKILL
and restart that loses no subscription and sends no alert twice, and a DEBUG log with no
token in it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest

from tests.fakes.fake_exchange import FakeExchange, fake_exchange
from tests.fakes.fake_telegram import FakeTelegram
from tests.paths import REPO_ROOT

__all__ = ["fake_exchange"]  # the fixture, used by name

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
CHAT = 5001
THREAD_CHANNEL = -1001234567890

pytestmark = pytest.mark.slow


def _config(tmp_path: Path, fake: FakeTelegram) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[market]
symbols = ["BTC"]
[market.refresh]
candles_every = "1s"
jitter = 0
[storage]
path = "{tmp_path / "state.sqlite3"}"
[telegram]
enabled = true
api_base_url = "{fake.api_base_url}"
default_range = "7d"
[logging]
level = "DEBUG"

[[threads]]
platform = "telegram"
chat_id = "{THREAD_CHANNEL}"
symbol = "BTC"
every = "6h"
"""
    )
    return path


@asynccontextmanager
async def _fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN, poll_cap=0.2) as fake:
        yield fake


@contextmanager
def _bot(config: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "LIQWATCH__TELEGRAM__TOKEN": TOKEN, "MPLBACKEND": "agg"}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.app.cli", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO_ROOT,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


async def _exit_code(proc: subprocess.Popen[bytes], within: float) -> int:
    for _ in range(int(within * 10)):
        code = proc.poll()
        if code is not None:
            return code
        await asyncio.sleep(0.1)
    raise AssertionError(f"the bot did not exit within {within} s")


async def _reply_containing(fake: FakeTelegram, needle: str, within: float) -> str:
    """The text of the next sendMessage containing ``needle`` (an alert or a thread post
    of the running bot may come first)."""
    seen = len(fake.calls)
    async with asyncio.timeout(within):
        while True:
            for call in fake.calls[seen:]:
                text = str(call.params.get("text"))
                if call.method == "sendmessage" and call.ok and needle in text:
                    return text
            await asyncio.sleep(0.05)


def _alerts(fake: FakeTelegram) -> list[str]:
    sent = [*fake.calls_of("sendPhoto"), *fake.calls_of("sendMessage")]
    texts = [str(c.params.get("caption") or c.params.get("text") or "") for c in sent]
    return [t for t in texts if t.startswith("<b>Alert</b>") and "imbalance" in t]


async def test_run_answers_alerts_and_stops_gracefully(tmp_path: Path) -> None:
    log = tmp_path / "bot.log"
    async with _fake() as fake:
        config = _config(tmp_path, fake)
        with _bot(config, log) as proc:
            await fake.wait_for("setMyCommands", within=60)
            fake.inject_command("/subscribe BTC imbalance", chat_id=CHAT)
            await fake.wait_for("sendMessage", within=30)
            fake.inject_command("/heatmap BTC", chat_id=CHAT)
            photo = (await fake.wait_for("sendPhoto", within=30))[0]
            assert "Shorts above" in str(photo.params.get("caption"))
            # the seed market's imbalance is far above 5:1: one alert, pushed by the scheduler
            for _ in range(100):
                if _alerts(fake):
                    break
                await asyncio.sleep(0.2)
            assert len(_alerts(fake)) == 1
            # the configured channel got its market-structure thread: chart first, replies after
            for _ in range(150):
                posts = [
                    c
                    for c in (*fake.calls_of("sendPhoto"), *fake.calls_of("sendMessage"))
                    if str(c.params.get("chat_id")) == str(THREAD_CHANNEL)
                ]
                if len(posts) >= 5:
                    break
                await asyncio.sleep(0.2)
            assert len(posts) >= 5, f"no thread was auto-posted ({len(posts)} posts)"
            posts.sort(key=lambda c: c.at)
            first = posts[0]
            assert "liquidation map" in str(first.params.get("caption"))
            first_id = first.result["message_id"]
            for reply in posts[1:]:  # the rest of the thread answers the first post, in order
                assert reply.json("reply_parameters")["message_id"] == first_id
            proc.send_signal(signal.SIGTERM)
            assert await _exit_code(proc, within=30) == 0
    text = log.read_text()
    assert "liqwatch stopped" in text
    # the first minutes: each market's backfill as a progress bar, then "ready"
    assert "backfill [########################] 1/1 markets · sim BTC: 2,016 candles (7d)" in text
    assert "ready: 1 market(s) backfilled in" in text
    assert text.index("liqwatch is running") < text.index("backfill [") < text.index("ready:")
    assert TOKEN not in text, "the bot token leaked into the log"
    assert TOKEN.split(":")[1] not in text


async def test_sigkill_and_restart_lose_nothing_and_repeat_nothing(tmp_path: Path) -> None:
    log = tmp_path / "bot.log"
    async with _fake() as fake:
        config = _config(tmp_path, fake)
        with _bot(config, log) as proc:
            await fake.wait_for("setMyCommands", within=60)
            fake.inject_command("/subscribe BTC imbalance", chat_id=CHAT)
            await fake.wait_for("sendMessage", within=30)
            for _ in range(100):
                if _alerts(fake):
                    break
                await asyncio.sleep(0.2)
            assert len(_alerts(fake)) == 1
            proc.kill()  # SIGKILL: no clean-up at all
            proc.wait(10)
        with _bot(config, log) as proc:
            await fake.wait_for("setMyCommands", within=60)
            fake.inject_command("/alerts", chat_id=CHAT)
            listing = await _reply_containing(fake, "Alerts in this chat", within=30)
            assert "• BTC: imbalance" in listing, "the subscription was lost"
            await asyncio.sleep(4)  # several scheduler cycles after the restart
            assert len(_alerts(fake)) == 1, "an alert was sent twice"
            proc.send_signal(signal.SIGTERM)
            assert await _exit_code(proc, within=30) == 0


async def test_a_second_run_on_the_same_storage_is_refused(tmp_path: Path) -> None:
    """Issue 14: one clear line, exit 2, and the first bot keeps running and answering."""
    log = tmp_path / "bot.log"
    async with _fake() as fake:
        config = _config(tmp_path, fake)
        with _bot(config, log) as first:
            await fake.wait_for("setMyCommands", within=60)
            db = tmp_path / "state.sqlite3"
            before = db.stat().st_size
            env = {**os.environ, "LIQWATCH__TELEGRAM__TOKEN": TOKEN, "MPLBACKEND": "agg"}
            second = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "bot.app.cli", "run", "--config", str(config)],
                capture_output=True,
                text=True,
                timeout=60,
                env=env,
                cwd=REPO_ROOT,
                check=False,
            )
            assert second.returncode == 2
            assert "Traceback" not in second.stderr
            assert second.stderr.strip().splitlines() == [
                f"liqwatch run: storage.path {db} is in use by another liqwatch "
                f"(pid {first.pid}, liqwatch run): stop that one first, or give this one "
                "its own storage.path"
            ]
            assert first.poll() is None
            fake.inject_command("/status", chat_id=CHAT)
            assert "Data status" in await _reply_containing(fake, "Data status", within=30)
            assert db.stat().st_size >= before
            first.send_signal(signal.SIGTERM)
            assert await _exit_code(first, within=30) == 0


async def test_run_on_a_live_exchange_source_with_no_network(
    tmp_path: Path, fake_exchange: FakeExchange
) -> None:
    """source = "ccxt": REST goes to the loopback fake exchange; the liquidation stream
    has no network to reach (as in CI). The bot starts, answers, keeps retrying the
    stream in the background, and stops cleanly."""
    log = tmp_path / "bot.log"
    async with _fake() as fake:
        config = tmp_path / "config.toml"
        config.write_text(
            f"""
[market]
source = "ccxt"
exchanges = ["binanceusdm"]
symbols = ["XRP"]
[exchanges.binanceusdm]
api_base_url = "{fake_exchange.url}"
rate_limit = false
timeout_s = 2
[storage]
path = "{tmp_path / "state.sqlite3"}"
[telegram]
enabled = true
api_base_url = "{fake.api_base_url}"
[logging]
level = "INFO"
"""
        )
        with _bot(config, log) as proc:
            await fake.wait_for("setMyCommands", within=60)
            fake.inject_command("/status", chat_id=CHAT)
            assert "Data status" in await _reply_containing(fake, "Data status", within=30)
            assert fake_exchange.requests["/fapi/v1/exchangeInfo"] >= 1  # markets loaded
            proc.send_signal(signal.SIGTERM)
            assert await _exit_code(proc, within=30) == 0
    text = log.read_text()
    assert "starting binanceusdm liquidation stream" in text
    assert "network error" in text  # the stream's failure is a logged warning, not a crash
    assert "stopping binanceusdm liquidation stream" in text
    assert "liqwatch stopped" in text


def _run_without_secrets(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.app.cli", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("LIQWATCH__")},
        cwd=REPO_ROOT,
        check=False,
    )


def test_startup_checks_say_what_is_missing(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "nowhere" / "state.sqlite3"}"\n')
    result = _run_without_secrets(config)
    assert result.returncode == 2
    assert "storage.path: folder" in result.stderr
    assert "no platform is enabled" in result.stderr
    missing_token = tmp_path / "tg.toml"
    missing_token.write_text("[telegram]\nenabled = true\n")
    result = _run_without_secrets(missing_token)
    assert result.returncode == 2
    assert "LIQWATCH__TELEGRAM__TOKEN" in result.stderr
