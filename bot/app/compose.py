"""The composition root's first half: the market sources and the market service the
settings ask for. This module and :mod:`bot.app.serve` are the only ones that name
concrete sources and adapters; everything else talks to ports
(:class:`bot.market.port.MarketSource`) and neutral replies.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.analysis.service import MarketService
    from bot.config.settings import Settings
    from bot.market.port import MarketSource
    from bot.state.store import Store

__all__ = ["build_service", "build_sources"]


def build_sources(settings: Settings) -> dict[str, MarketSource]:
    """The market sources the settings ask for, by exchange id."""
    market = settings.market
    if market.source == "sim":
        from bot.market.sim_source import SIM_MARKETS, SimMarketSpec, SimSource

        markets = dict(SIM_MARKETS)
        btc = "BTC/USDT:USDT"
        markets[btc] = SimMarketSpec(seed=market.sim_seed, start_price=markets[btc].start_price)
        for name in market.symbols:  # any other configured symbol gets a market of its own
            symbol = name if "/" in name else f"{name.upper()}/USDT:USDT"
            if symbol not in markets:
                seed = zlib.crc32(symbol.encode())
                markets[symbol] = SimMarketSpec(seed=seed % 10_000, start_price=_sim_price(seed))
        sim = SimSource(scenario=market.sim_scenario, markets=markets)
        if market.sim_step > 0:  # the market lives on after its first run
            from bot.market.sim_live import SimClock

            sim.clock = SimClock(sim.end_ms, market.sim_step)
        return {"sim": sim}
    if market.source == "replay":
        from bot.market.replay_source import ReplaySource

        assert market.replay_dir is not None  # validated by the config
        return {"replay": ReplaySource(market.replay_dir)}
    from bot.market.ccxt_source import CcxtSource

    sources: dict[str, MarketSource] = {}
    for exchange_id in market.exchanges:
        ex = settings.exchange(exchange_id)
        sources[exchange_id] = CcxtSource(
            exchange_id,
            api_base_url=str(ex.api_base_url) if ex.api_base_url else None,
            timeout_ms=int(ex.timeout_s * 1000),
            enable_rate_limit=ex.rate_limit,
        )
    return sources


def _sim_price(seed: int) -> float:
    """A plausible start price for a simulated market of an unknown coin: $0.1 … $1,000."""
    return float(10 ** ((seed % 5) - 1) * (1 + (seed >> 8) % 9))


def _clock_for(sources: dict[str, MarketSource]) -> Callable[[], int] | None:
    """The synthetic market lives at fixed dates: its own clock (accelerated, from the end of
    the first run; ``market.sim_step``), or one standing at the end of the run."""
    from bot.market.sim_source import SimSource

    sim = sources.get("sim")
    if isinstance(sim, SimSource):
        if sim.clock is not None:
            return sim.clock
        end = sim.end_ms
        return lambda: end
    return None


def build_service(
    settings: Settings, store: Store, sources: dict[str, MarketSource]
) -> MarketService:
    """The one path from (symbol, range, exchanges) to analyses and charts."""
    from bot.analysis.params import analysis_params
    from bot.analysis.service import CoreEngine, MarketService

    params = analysis_params(settings.model, synthetic=settings.market.source == "sim")
    clock = _clock_for(sources)
    extra = {"clock": clock} if clock is not None else {}
    return MarketService(
        sources,
        store,
        timeframe=settings.market.timeframe,
        refresh_every_ms=settings.market.refresh.candles_every,
        lookback_ms=settings.market.lookback,
        engine=CoreEngine(params),
        **extra,  # type: ignore[arg-type]
    )
