"""Live recalibration with a fake clock: off never runs; suggest tells the admins and changes
nothing; auto adopts one grid step a day when it wins by the margin, persists it and a
restart keeps it; too little data is said once. The data is the store's: candles, prints,
the scorecard's hours (a feed-down hour is no bar) and the archive's markets."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from bot.analysis.recalibrate import (
    META_ADOPTED,
    META_LAST_RUN,
    Recalibrator,
    load_adopted,
    load_markets,
)
from bot.reply import Reply
from bot.reply.text import render_reply
from bot.state.archive import MapArchive
from bot.state.scorecard import ScoreBook
from bot.state.store import Store
from core.calibrate import LEVERAGE_MIXES, SEARCH_SPACE
from core.levels import EngineParams, default_grid, run_engine
from core.livescore import unscored
from core.models import LiquidationPrints
from core.pointintime import point_in_time
from core.sim import simulate

BTC = "BTC/USDT:USDT"
VENUE = "binanceusdm"
H = 3_600_000
DAY = 24 * H
LOOKBACK = 72
TRUTH = dataclasses.replace(
    EngineParams(), half_life_hours=24.0, tiers=LEVERAGE_MIXES["retail-heavy"], entry="typical"
)
FEED_DOWN = frozenset(range(300, 320))  # candle indexes of hours whose prints feed was down


def fill(store: Store, candles: int = 900) -> int:
    """A market as ``liqwatch run`` leaves it; returns the hours the scorecard scored."""
    sim = simulate("churn", seed=5, candles=candles, timeframe="1h")
    series = sim.series
    store.save_series(VENUE, BTC, "1h", series)
    long_usd, short_usd = point_in_time(series, TRUTH, LOOKBACK)
    rng = np.random.default_rng(1)
    times, sides, prices, usd = [], [], [], []
    scores = ScoreBook(store)
    scored = 0
    for i in range(LOOKBACK, len(series)):
        hour = int(series.timestamps[i])
        for side, amount in ((1, long_usd[i]), (-1, short_usd[i])):
            times.append(hour + 60_000)
            sides.append(side)
            prices.append(float(series.close[i]))
            usd.append(float(amount) * rng.lognormal(0, 0.1) + 1.0)
        status = "feed_down" if i in FEED_DOWN else "scored"
        scores.save(BTC, [VENUE], hour, [unscored("long", status), unscored("short", status)])
        scored += status == "scored"
    store.save_prints(
        VENUE,
        BTC,
        LiquidationPrints(np.array(times), np.array(sides), np.array(prices), np.array(usd)),
    )
    window = series.slice(0, LOOKBACK)
    lmap = run_engine(window, default_grid(window, bins=50), EngineParams(), columns=1).map
    MapArchive(store).save(BTC, [VENUE], lmap)
    return scored


@dataclass
class Admins:
    told: list[Reply] = field(default_factory=list)

    async def __call__(self, reply: Reply) -> None:
        self.told.append(reply)


@dataclass
class Bot:
    store: Store
    recalibrator: Recalibrator
    admins: Admins
    params: list[EngineParams]
    clock: list[int]


def bot_on(store: Store, mode: str, *, now: int, config: EngineParams | None = None,
           **kw: object) -> Bot:  # fmt: skip
    config = config or EngineParams()
    params = [load_adopted(store, config) or config] if mode == "auto" else [config]
    clock, admins = [now], Admins()
    recalibrator = Recalibrator(
        store,
        mode=mode,  # type: ignore[arg-type]
        timeframe="1h",
        lookback_ms=LOOKBACK * H,
        every_ms=H,
        config=config,
        current=lambda: params[0],
        adopt=lambda p: params.__setitem__(0, p),
        clock=lambda: clock[0],
        notify=admins,
        window_ms=60 * DAY,
        **kw,  # type: ignore[arg-type]
    )
    return Bot(store, recalibrator, admins, params, clock)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "state.sqlite3") as s:
        yield s


def end_of(store: Store) -> int:
    last = store.last_candle_time(VENUE, BTC, "1h")
    assert last is not None
    return last + H


def test_the_data_is_the_scored_hours_with_their_prints(store: Store) -> None:
    scored = fill(store)
    (market,) = load_markets(store, timeframe="1h", lookback_ms=LOOKBACK * H, every_ms=H,
                             since=0, until=end_of(store))  # fmt: skip
    assert len(market.real) == scored  # feed-down hours are not bars
    hours = set(market.real.open_ms.tolist())
    assert not hours & {int(market.series.timestamps[i]) for i in FEED_DOWN}
    stored = store.load_prints(VENUE, BTC)
    first = int(market.real.open_ms[0])
    expected = float(stored.notionals[(stored.sides == 1) & (stored.times // H * H == first)].sum())
    assert market.real.long_usd[0] == pytest.approx(expected)


async def test_off_never_runs(store: Store) -> None:
    fill(store)
    bot = bot_on(store, "off", now=end_of(store))
    await bot.recalibrator([])
    assert await bot.recalibrator.maybe_run() is None
    assert store.get_meta(META_LAST_RUN) is None and bot.admins.told == []


async def test_suggest_tells_the_admins_once_a_day_and_changes_nothing(store: Store) -> None:
    fill(store)
    now = end_of(store)
    bot = bot_on(store, "suggest", now=now, min_hours=100)
    decision = await bot.recalibrator.maybe_run()
    assert decision is not None and decision.kind == "suggest" and decision.gain > 0
    assert bot.params == [EngineParams()] and store.get_meta(META_ADOPTED) is None
    (told,) = bot.admins.told
    text = render_reply(told, "console")
    for name in decision.changes():
        assert f"• {name}: " in text
    assert f"({decision.gain:+.3f})" in text and "half_life_hours = 24" in text
    for platform in ("telegram", "discord"):
        assert "recalibrate" in render_reply(told, platform)
    bot.clock[0] = now + DAY - 1
    assert await bot.recalibrator.maybe_run() is None  # once a day
    bot.clock[0] = now + DAY
    again = await bot.recalibrator.maybe_run()
    assert again is not None and again.kind == "suggest"
    assert len(bot.admins.told) == 1  # the same proposal is not told twice


async def test_auto_adopts_one_step_a_day_and_a_restart_keeps_it(store: Store) -> None:
    fill(store)
    now = end_of(store)
    bot = bot_on(store, "auto", now=now, min_hours=100)
    decision = await bot.recalibrator.maybe_run()
    assert decision is not None and decision.kind == "adopt"
    assert decision.gain >= decision.margin
    adopted = bot.params[0]
    assert adopted.half_life_hours == 72.0  # 100 h → one step toward 24 h
    assert adopted.leveraged_share == EngineParams().leveraged_share
    (told,) = bot.admins.told
    assert "Adopted" in render_reply(told, "console")
    # a restart: the same store, the same [model]
    restarted = bot_on(store, "auto", now=now + 1, min_hours=100, margin=0.01)
    assert restarted.params[0] == adopted
    assert await restarted.recalibrator.maybe_run() is None  # today's run happened already
    # [model] edited since: the config wins
    edited = dataclasses.replace(EngineParams(), side_lean=0.5)
    assert load_adopted(store, edited) is None
    # the next day: one more step, from where it is (a smaller gain: a smaller margin here)
    restarted.clock[0] = now + DAY
    nxt = await restarted.recalibrator.maybe_run()
    assert nxt is not None and nxt.kind == "adopt"
    assert restarted.params[0].half_life_hours == 48.0
    grid = sorted(SEARCH_SPACE["half_life_hours"])
    assert grid.index(48.0) == grid.index(72.0) - 1


async def test_auto_keeps_the_settings_when_the_gain_is_below_the_margin(store: Store) -> None:
    fill(store)
    bot = bot_on(store, "auto", now=end_of(store), min_hours=100, margin=1.0)
    decision = await bot.recalibrator.maybe_run()
    assert decision is not None and decision.kind == "keep"
    assert bot.params == [EngineParams()] and store.get_meta(META_ADOPTED) is None
    assert bot.admins.told == []


async def test_too_little_data_is_said_once_and_nothing_changes(store: Store) -> None:
    scored = fill(store, candles=200)
    now = end_of(store)
    bot = bot_on(store, "auto", now=now)  # MIN_HOURS: a week
    decision = await bot.recalibrator.maybe_run()
    assert decision is not None and decision.kind == "too_little_data"
    (told,) = bot.admins.told
    text = render_reply(told, "console")
    assert f"has {scored} scored hours" in text and "168 are needed" in text
    assert "Nothing changed" in text and bot.params == [EngineParams()]
    bot.clock[0] = now + DAY
    await bot.recalibrator.maybe_run()
    assert len(bot.admins.told) == 1


async def test_the_cycle_hook_runs_it_in_the_background_once_a_day(store: Store) -> None:
    fill(store, candles=200)
    bot = bot_on(store, "suggest", now=end_of(store))
    await bot.recalibrator([])
    task = bot.recalibrator._task
    assert task is not None
    await task
    await bot.recalibrator([])
    assert bot.recalibrator._task is task  # not due again today
