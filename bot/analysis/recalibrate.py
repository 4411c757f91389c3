"""Live recalibration in ``liqwatch run`` (``[model] recalibrate = "off" | "suggest" | "auto"``).

Once a day (by the market's clock; the last run is kept in the store, so a restart does not
run it again early) the backtest calibration is re-run on what the bot collected
(:func:`core.recalibrate.recalibrate`): for every archived market, the stored candles with
open interest, and as real liquidations the stored prints summed per hour the live scorecard
scored — hours whose prints feed was down are left out, never read as zero.

* ``suggest`` tells the admins (``notify``: the Telegram ``admin_ids``, the Discord
  ``admin_channel_id``) the proposed ``[model]`` change, its out-of-sample gain and the lines
  to paste; the same proposal is not told twice in a row.
* ``auto`` adopts one grid step per setting toward the proposal when that step wins out of
  sample by :data:`~core.recalibrate.MARGIN` (and loses that much on no market): the new
  settings go to the running engine, the log says what changed, the admins are told, and the
  store keeps them (``model.adopted``) — :func:`load_adopted` applies them at the next start,
  unless ``[model]`` was edited since (the config then wins).
* Too little data: the admins are told once, nothing changes.

Blocking work (SQLite, numpy) runs in a worker thread; the daily run is a background task
started from the scheduler's ``on_cycle`` hook, so a cycle never waits for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

import numpy as np

from bot.reply import Reply
from bot.state.archive import MapArchive
from bot.state.scorecard import ScoreBook
from bot.state.store import Store
from core.calibrate import SEARCH_SPACE, describe
from core.levels import EngineParams
from core.models import LiquidationPrints, timeframe_ms
from core.recalibrate import (
    MARGIN,
    MIN_HOURS,
    Decision,
    MarketData,
    Mode,
    changes,
    from_description,
    recalibrate,
)
from core.scoring import RealLiquidations

__all__ = [
    "META_ADOPTED",
    "META_LAST_RUN",
    "Recalibrator",
    "decision_reply",
    "load_adopted",
    "load_markets",
]

log = logging.getLogger(__name__)

DAY: Final = 86_400_000
META_LAST_RUN: Final = "recalibrate.last_run"
META_TOLD: Final = "recalibrate.told"
META_ADOPTED: Final = "model.adopted"

Notify = Callable[[Reply], Awaitable[None]]


def _plain(value: Any) -> Any:
    """JSON's view of a value (tuples become lists), for comparisons with stored ones."""
    return json.loads(json.dumps(value))


def load_adopted(store: Store, config: EngineParams) -> EngineParams | None:
    """The settings ``auto`` adopted, if the ``[model]`` they were adopted on is still the
    configured one (``config``); else None (and the log says why)."""
    raw = store.get_meta(META_ADOPTED)
    if raw is None:
        return None
    doc = json.loads(raw)
    if doc.get("config") != _plain(describe(config)):
        log.warning("recalibrate: [model] was edited since settings were adopted; using [model]")
        return None
    adopted = from_description(config, doc["params"])
    log.info("recalibrate: adopted settings restored: %s", _change_text(changes(config, adopted)))
    return adopted


def load_markets(
    store: Store,
    *,
    timeframe: str,
    lookback_ms: int,
    every_ms: int,
    since: int,
    until: int,
) -> list[MarketData]:
    """Every archived market's candles and its scored hours' reported liquidations."""
    scores = ScoreBook(store)
    out: list[MarketData] = []
    for symbol, venues in MapArchive(store).markets():
        sides = [
            {h: s.status for h, s in scores.hours(symbol, side, since=since, until=until,
                                                  venues=venues)}
            for side in ("long", "short")
        ]  # fmt: skip
        starts: list[int] = []
        for hour in sorted(sides[0]):
            if sides[0][hour] == sides[1].get(hour) == "scored" and (
                not starts or hour >= starts[-1] + every_ms
            ):
                starts.append(hour)
        if not starts:
            continue
        first, end = starts[0], starts[-1] + every_ms
        series = store.load_series(venues[0], symbol, timeframe, first - lookback_ms, end - 1)
        if series is None or series.open_interest is None:
            log.info("recalibrate: %s has no candles with open interest stored", symbol)
            continue
        prints = LiquidationPrints.merged(
            [store.load_prints(ex, symbol, since=first, until=end - 1) for ex in venues]
        )
        opens = np.array(starts, dtype=np.int64)
        bar = np.searchsorted(opens, prints.times, side="right") - 1
        inside = (bar >= 0) & (prints.times < opens[np.maximum(bar, 0)] + every_ms)
        usd = {}
        for side in (1, -1):
            mine = inside & (prints.sides == side)
            usd[side] = np.bincount(bar[mine], prints.notionals[mine], len(opens)).astype(float)
        real = RealLiquidations(opens, opens + every_ms, usd[1], usd[-1])
        out.append(MarketData(symbol, series, real))
    return out


def _show(value: Any) -> str:
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:g}"
    return str(value)


def _change_text(found: Mapping[str, tuple[Any, Any]]) -> str:
    return "; ".join(f"{k} {_show(a)} → {_show(b)}" for k, (a, b) in found.items()) or "none"


def _lines(params: EngineParams, names: Sequence[str]) -> list[str]:
    """The ``[model]`` lines that set ``names`` of ``params``."""
    out: list[str] = []
    for name in names:
        if name == "tiers":
            out.append(f"leverage_tiers = [{', '.join(_show(x) for x in params.tiers.leverages)}]")
            out.append(f"leverage_weights = [{', '.join(_show(w) for w in params.tiers.weights)}]")
        elif name == "entry":
            out.append(f'entry = "{params.entry}"')
        else:
            out.append(f"{name} = {_show(float(getattr(params, name)))}")
    return out


def decision_reply(decision: Decision) -> Reply:
    """The admin notice of a decision (template ``recalibrate``)."""
    found = decision.changes()
    proposed = changes(decision.current, decision.proposal) if decision.proposal else {}
    checks = decision.checks
    context: dict[str, Any] = {
        "mode": decision.mode,
        "kind": decision.kind,
        "hours": [{"symbol": s, "hours": n} for s, n in decision.hours.items()],
        "min_hours": decision.min_hours,
        "margin": decision.margin,
        "searched": decision.searched,
        "changes": [
            {"name": k, "old": _show(a), "new": _show(b), "proposed": _show(proposed[k][1])}
            for k, (a, b) in found.items()
            if k in proposed
        ],
        "gain": decision.gain,
        "before": sum(c.current for c in checks) / len(checks) if checks else math.nan,
        "after": sum(c.candidate for c in checks) / len(checks) if checks else math.nan,
        "checks": [{"symbol": c.symbol, "hours": c.hours, "gain": c.gain} for c in checks],
        "lines": _lines(decision.candidate, list(found)) if decision.candidate else [],
    }
    return Reply("recalibrate", context)


class Recalibrator:
    """The daily recalibration of ``liqwatch run`` (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        *,
        mode: Mode,
        timeframe: str,
        lookback_ms: int,
        every_ms: int,
        config: EngineParams,
        current: Callable[[], EngineParams],
        adopt: Callable[[EngineParams], None],
        clock: Callable[[], int],
        notify: Notify | None = None,
        window_ms: int = 30 * DAY,
        min_hours: int = MIN_HOURS,
        margin: float = MARGIN,
        space: Mapping[str, Sequence[Any]] = SEARCH_SPACE,
        rounds: int = 2,
    ) -> None:
        self.store = store
        self.mode: Mode = mode
        self.timeframe = timeframe
        self.candle_ms = timeframe_ms(timeframe)
        self.lookback_ms = lookback_ms
        self.every_ms = every_ms
        self.config = config
        self.current = current
        self.adopt = adopt
        self.clock = clock
        self.notify = notify
        self.window_ms = window_ms
        self.min_hours = min_hours
        self.margin = margin
        self.space = space
        self.rounds = rounds
        self._task: asyncio.Task[Decision | None] | None = None

    def due(self, now: int) -> bool:
        """Not off, and a day since the last run (kept in the store)."""
        last = self.store.get_meta(META_LAST_RUN)
        return self.mode != "off" and (last is None or now - int(last) >= DAY)

    async def __call__(self, updates: Sequence[object]) -> None:
        """The ``on_cycle`` hook: start the day's run in the background when it is due."""
        if self._task is not None and not self._task.done():
            return
        if await asyncio.to_thread(self.due, self.clock()):
            self._task = asyncio.get_running_loop().create_task(
                self.maybe_run(), name="recalibrate"
            )

    async def maybe_run(self) -> Decision | None:
        """Run if due; the decision (None: not due, or the run failed — logged)."""
        now = self.clock()
        if not await asyncio.to_thread(self.due, now):
            return None
        await asyncio.to_thread(self.store.set_meta, META_LAST_RUN, str(now))
        try:
            return await self._run(now)
        except Exception:  # a failed run must not stop the bot; tomorrow is another day
            log.exception("recalibrate: the daily run failed")
            return None

    async def _run(self, now: int) -> Decision:
        current = self.current()
        markets = await asyncio.to_thread(
            load_markets,
            self.store,
            timeframe=self.timeframe,
            lookback_ms=self.lookback_ms,
            every_ms=self.every_ms,
            since=now - self.window_ms,
            until=now,
        )
        decision = await asyncio.to_thread(
            recalibrate,
            markets,
            current,
            mode=self.mode,
            lookback=max(1, self.lookback_ms // self.candle_ms),
            candle_ms=self.candle_ms,
            min_hours=self.min_hours,
            margin=self.margin,
            space=self.space,
            rounds=self.rounds,
        )
        found = _change_text(decision.changes())
        log.info("recalibrate (%s): %s; %s; gain %+.3f", self.mode, decision.kind, found,
                 decision.gain)  # fmt: skip
        if decision.kind == "adopt" and decision.candidate is not None:
            doc = {
                "at": now,
                "config": _plain(describe(self.config)),
                "params": _plain(describe(decision.candidate)),
                "changes": _plain(decision.changes()),
                "gain": decision.gain,
            }
            await asyncio.to_thread(self.store.set_meta, META_ADOPTED, json.dumps(doc))
            self.adopt(decision.candidate)
            log.warning("recalibrate: adopted %s (out of sample %+.3f)", found, decision.gain)
        await self._tell(decision)
        return decision

    async def _tell(self, decision: Decision) -> None:
        if self.notify is None or decision.kind in ("no_change", "keep"):
            return
        told = {"kind": decision.kind, "changes": _plain(decision.changes())}
        last = await asyncio.to_thread(self.store.get_meta, META_TOLD)
        if decision.kind != "adopt" and last is not None and json.loads(last) == told:
            return  # the same proposal (or the same lack of data) was told already
        await self.notify(decision_reply(decision))
        await asyncio.to_thread(self.store.set_meta, META_TOLD, json.dumps(told))
