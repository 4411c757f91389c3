"""A fresh `liqwatch run` on the synthetic market fills the live scorecard, with no network.

The sim's clock runs fast (``market.sim_step``: one 5m candle every 0.05 s, so a market hour
passes in 0.6 s); the archiver keeps the market's time, so it archives and scores an hour of
the market every market hour. After a few seconds the database holds scored hours and
``/accuracy`` (through the loopback Telegram) reports them.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from tests.bot.app.test_run import TOKEN, _bot, _exit_code
from tests.fakes.fake_telegram import FakeTelegram

pytestmark = pytest.mark.slow

CHAT = 5002


def _scored(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            row = conn.execute(
                "SELECT count(DISTINCT hour) FROM live_scores WHERE status = 'scored'"
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return 0
    return int(row[0])


async def test_a_fresh_run_on_the_sim_fills_the_scorecard(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite3"
    async with FakeTelegram(TOKEN, poll_cap=0.2) as fake:
        config = tmp_path / "config.toml"
        config.write_text(
            f"""
[market]
symbols = ["BTC"]
sim_step = 0.05
[market.refresh]
candles_every = "1s"
jitter = 0
[storage]
path = "{db}"
[telegram]
enabled = true
api_base_url = "{fake.api_base_url}"
default_range = "24h"
[logging]
level = "INFO"
"""
        )
        with _bot(config, tmp_path / "bot.log") as proc:
            await fake.wait_for("setMyCommands", within=60)
            for _ in range(300):
                if _scored(db) >= 6:
                    break
                await asyncio.sleep(0.2)
            assert _scored(db) >= 6, (tmp_path / "bot.log").read_text()[-3000:]
            fake.inject_command("/accuracy BTC 24h", chat_id=CHAT, user_id=CHAT)
            (photo,) = await fake.wait_for("sendPhoto", within=60)
            await asyncio.sleep(0.5)
            texts = [str(photo.params["caption"])]
            texts += [str(c.params["text"]) for c in fake.calls_of("sendMessage")]
            text = "\n".join(texts)
            assert "<b>Accuracy</b> BTC · sim · 24h" in text
            assert "No hour scored yet" not in text
            assert " h scored" in text
            assert photo.files["photo"].startswith(b"\x89PNG")
            proc.terminate()
            assert await _exit_code(proc, within=30) == 0
