"""A simulated backtest folder and the file-editing helpers shared by the backtest-folder tests."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

from bot.market.backtest_folder import (
    BacktestFolderError,
    BacktestMeta,
    read_backtest_folder,
    write_backtest_folder,
)
from core.scoring import RealLiquidations
from core.sim import SimMarket, simulate
from tests.fakes.exchange_data import DATA_DIR

REAL = DATA_DIR / "real-btc-1h"
FIVE_MIN = 300_000
HOUR = 3_600_000


@cache
def sim() -> SimMarket:
    return simulate("seed", seed=3, candles=288, timeframe="5m")


def write_sim(folder: Path, *, oi_unit: str = "base", prints: bool = True) -> SimMarket:
    m = sim()
    s = m.series
    write_backtest_folder(
        folder,
        meta=BacktestMeta("sim", "BTC/USDT:USDT", "5m", "simulated", {"candles": "core.sim"}),
        series=s,
        real=RealLiquidations.from_prints(m.snapshot.prints, s.timestamps, FIVE_MIN),
        prints=m.snapshot.prints if prints else None,
        oi_unit=oi_unit,  # type: ignore[arg-type]
    )
    return m


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_sim(tmp_path)
    return tmp_path


def edit(path: Path, change: Callable[[list[str]], list[str]]) -> None:
    path.write_text("\n".join(change(path.read_text().splitlines())) + "\n")


def set_line(path: Path, number: int, text: str) -> None:
    """Replace file line ``number`` (1-based, the header is line 1)."""

    def change(lines: list[str]) -> list[str]:
        lines[number - 1] = text
        return lines

    edit(path, change)


def cells(path: Path, number: int) -> list[str]:
    return path.read_text().splitlines()[number - 1].split(",")


def problem(folder: Path, **kwargs: object) -> str:
    with pytest.raises(BacktestFolderError) as info:
        read_backtest_folder(folder, **kwargs)  # type: ignore[arg-type]
    return str(info.value)
