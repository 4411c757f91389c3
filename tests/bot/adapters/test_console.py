"""A scripted console session over the real sim source, engine and charts (small sizes)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.adapters.console import PROMPT, format_reply, run_console
from bot.analysis.service import CoreEngine, MarketService
from bot.commands.catalog import build_commands
from bot.market.sim_source import DEFAULT_START_MS, SimSource
from bot.reply import Button, Image, Reply
from bot.state.store import Store
from core.analysis import AnalysisParams

CANDLES = 400  # ~33 h of 5m candles: enough for 12h/24h, short for 7d
NOW = DEFAULT_START_MS + CANDLES * 300_000 + 30_000


@pytest.fixture
def service() -> MarketService:
    return MarketService(
        {"sim": SimSource(candles=CANDLES)},
        Store(":memory:"),
        engine=CoreEngine(AnalysisParams(bins=80, columns=40)),
        clock=lambda: NOW,
        size=(480, 270),
    )


async def session(service: MarketService, script: str, out_dir: Path) -> str:
    output = io.StringIO()
    await run_console(
        build_commands(service), out_dir=out_dir, input=io.StringIO(script), output=output
    )
    return output.getvalue()


async def test_scripted_session(service: MarketService, tmp_path: Path) -> None:
    script = "\n".join(
        [
            "/heatmap BTC 24h",
            "map eth 12h",
            "",
            "/levels SOL",
            "/heatmap BTC 7d",
            "/heatmap BTC 5x",
            "hello",
            "/status",
            "quit",
            "/help",  # never reached
        ]
    )
    out = await session(service, script + "\n", tmp_path)
    answers = out.split(PROMPT)
    assert len(answers) == 10  # 9 prompts: 8 lines answered or skipped, then quit
    heatmap, mapped, blank, levels, week, bad, hello, status, last = answers[1:]
    assert heatmap.startswith("BTC · sim · 24h — price $")
    assert "est." in heatmap and "Imbalance:" in heatmap
    assert "buttons: [12h] /heatmap BTC 12h all  [24h*] /heatmap BTC 24h all" in heatmap
    assert mapped.startswith("ETH liquidation map · sim · 12h")
    assert blank == ""
    assert "Clusters, nearest first" in levels and "image:" not in levels
    assert "only 33h of data so far" in week
    assert bad.startswith("Unknown range '5x'. Use one of: 12h, 24h, 3d, 7d, 30d.")
    assert "Usage: /heatmap [symbol] [range] [exchange]" in bad
    assert hello.startswith("Unknown command /hello. Try /help.")
    assert "sim BTC 5m: 400 candles" in status
    assert last == ""
    images = sorted(p.name for p in tmp_path.iterdir())
    assert images == ["btc-heatmap-24h.png", "btc-heatmap-7d.png", "eth-map-12h.png"]
    for name in images:
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        assert f"image: {tmp_path / name}" in out
    assert service.renders == 3


async def test_end_of_input_ends_the_session(service: MarketService, tmp_path: Path) -> None:
    out = await session(service, "/start", tmp_path)
    assert "/heatmap BTC" in out
    assert out.endswith(PROMPT + "\n")


def test_format_reply_writes_images_and_marks_selected_buttons(tmp_path: Path) -> None:
    reply = Reply(
        "error",
        {"message": "hi", "usage": "", "example": ""},
        images=(Image("../x.png", b"\x89PNGdata"),),
        buttons=(
            (Button("7d", "/heatmap BTC 7d", selected=True), Button("all", "/heatmap BTC all")),
        ),
    )
    text = format_reply(reply, tmp_path / "out")
    assert (tmp_path / "out" / "x.png").read_bytes() == b"\x89PNGdata"  # no path escape
    assert text.splitlines() == [
        "hi",
        f"image: {tmp_path / 'out' / 'x.png'}",
        "buttons: [7d*] /heatmap BTC 7d  [all] /heatmap BTC all",
    ]
