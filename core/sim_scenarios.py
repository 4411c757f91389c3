"""Named market scenarios for the synthetic market (:mod:`core.sim`).

A :class:`Scenario` is plain data: how the exogenous price moves, how many aggregate trader
accounts open positions and on which side, which leverage they really use, how long they
hold, and how deep the order book is. Rates are given per hour or per day so a scenario
means the same market at any candle length.

The leverage mix is the *true* one. The estimation engine always assumes its own default
weights, so scenarios with a different mix (``high-leverage``) test its blind spots honestly.

The first five scenarios (``seed``, ``balanced``, ``long-heavy``, ``high-leverage``,
``chop``) share the model's own assumptions: positions live for days, so open interest
only falls when they close; the volume that opens nothing is balanced, so the net taker
flow is the opened flow; every close is a taker trade. The others each break one of those
assumptions (``independent`` several at once), so a model fitted to the first five does not
score well by construction:

* **churn** (short ``long_hold_days``/``short_hold_days``, see :func:`hold_days`, with
  :func:`steady_accounts_per_hour` new accounts replacing the closed ones): the book turns
  over in hours while open interest stays flat;
* **leaning background volume** (``background_lean``): the volume that opens nothing buys
  when the openers buy, so taker flow overstates the opened side;
* **closes without a taker trade** (``close_taker_share`` < 1): a close done with a limit
  order (or matched against another trader's open) adds no taker volume;
* **leverage mixes** lighter and heavier than the model's default, or concentrated on 20-50x;
* **open interest in USD at the source** (``oi_unit="usd"``): the market is the same, but
  :attr:`core.sim.SimMarket.source_snapshot` publishes open interest as its quote value, as
  a misconfigured source would — for tests of the input layer's unit check.

Every field added for these has a default that reproduces the first five bit for bit.

**The leveraged share.** The simulated accounts are the leveraged, liquidation-prone part
of the market: ``leveraged_share`` (default :data:`SIM_LEVERAGED_SHARE`, 10 %) of open
interest. The rest — hedged, cross-margined and low-leverage positions that no week's move
liquidates — mirrors them (opens and closes alongside, on the same sides), so the published
open interest, volume and taker-buy volume are the accounts' divided by the share, while
prices, positions and liquidation prints are the accounts' own. That keeps the magnitudes
those of a real market — a week of liquidations is a fraction of open interest (1–3 % of it
a day in the first five scenarios, as on real exchanges), not more than all of it — and
changes nothing the model sees but a scale (its estimates are linear in open interest, so
it uses the same share: ``bot.analysis.params.SYNTHETIC_LEVERAGED_SHARE``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Final, Literal

from core.models import ModelError

__all__ = [
    "DEFAULT_LEVERAGE_TIERS",
    "DEFAULT_LEVERAGE_WEIGHTS",
    "SCENARIOS",
    "SIM_LEVERAGED_SHARE",
    "OiUnit",
    "Scenario",
    "hold_days",
    "resolve_scenario",
    "steady_accounts_per_hour",
]

#: Unit of the open interest a scenario's source publishes: base asset (the
#: :class:`~core.models.MarketSeries` contract) or its USD(T) value (a source in the wrong unit).
OiUnit = Literal["base", "usd"]

#: The engine's default leverage mix: 5x 15 %, 10x 30 %, 25x 25 %, 50x 20 %, 100x 10 %.
DEFAULT_LEVERAGE_TIERS: Final = (5.0, 10.0, 25.0, 50.0, 100.0)
DEFAULT_LEVERAGE_WEIGHTS: Final = (0.15, 0.30, 0.25, 0.20, 0.10)

#: Share of open interest the simulated (leveraged) accounts hold; the rest mirrors them
#: and is never liquidated (see the module docstring).
SIM_LEVERAGED_SHARE: Final = 0.1

#: Highest leverage a scenario may use: keeps every new position's liquidation price
#: outside the band around the close where it is opened (see ``entry_band``).
MAX_LEVERAGE: Final = 125.0


@dataclass(frozen=True)
class Scenario:
    """One synthetic market regime; every field has a default of a plain BTC week."""

    name: str
    description: str
    # -- exogenous price (log returns; the forced flow of liquidations comes on top) --
    drift_per_day: float = 0.0  # mean log return per day
    late_drift_per_day: float = 0.0  # mean log return per day in the final stretch ...
    late_share: float = 0.0  # ... which is this share of the run (0: no final stretch)
    vol_per_day: float = 0.025  # standard deviation of the daily log return
    reversion_per_day: float = 0.0  # pull back toward the start price (0 = random walk)
    jumps_per_day: float = 0.5  # expected number of price jumps per day
    jump_size: float = 0.008  # standard deviation of one jump (log return)
    # -- traders (aggregate accounts) --
    accounts_per_hour: float = 480.0  # positions opened per hour (Poisson)
    long_share: float = 0.5  # probability a new account opens a long (taker buy)
    notional_median: float = 120_000.0  # USDT, lognormal median of a position's notional
    notional_sigma: float = 1.0  # lognormal sigma of the notional
    leverage_tiers: tuple[float, ...] = DEFAULT_LEVERAGE_TIERS
    leverage_weights: tuple[float, ...] = DEFAULT_LEVERAGE_WEIGHTS
    long_hold_days: float = 4.0  # mean holding time before a voluntary close
    short_hold_days: float = 4.0
    # -- positions already open when the series starts (opened_at == -1) --
    initial_open_interest: float = 5.0e9  # USDT notional
    initial_long_share: float = 0.5
    initial_spread: float = 0.04  # log-std of their entries around the start price
    # -- market microstructure --
    depth_1pct: float = 600.0e6  # USDT resting on one side of the book within 1 % of mid
    depth_exponent: float = 1.0  # cumulative depth D(v) = depth_1pct * (v / 1 %) ** exponent
    impact_persistence: float = 0.25  # share of the forced-flow impact that stays in the close
    background_volume_ratio: float = 1.5  # non-OI volume per candle / expected opening notional
    # Taker-buy share of that background volume: 1/2 + background_lean * (s - 1/2) + noise,
    # s the long share of the candle's opened quantity (0: balanced, > 1: leans harder than
    # the openers themselves), clipped to [0, 1].
    background_lean: float = 0.0
    # True: background volume is exactly background_volume_ratio x the opened notional at
    # any candle length. False (the first five scenarios, kept bit for bit): where accounts
    # are merged (> MAX_ACCOUNTS_PER_CANDLE per candle, e.g. 1h candles) it is that many times more.
    background_exact: bool = False
    # Share of voluntary closes that are taker trades (closing a long sells, a short buys);
    # the rest close with limit orders / against another trader's open and add no volume.
    close_taker_share: float = 1.0
    # -- the source --
    oi_unit: OiUnit = "base"  # open interest as published by the source (snapshot: always base)
    # Share of open interest (and volume) that the simulated accounts are: the published
    # open interest, volume and taker-buy volume are theirs / leveraged_share.
    leveraged_share: float = SIM_LEVERAGED_SHARE

    def __post_init__(self) -> None:
        if not self.name:
            raise ModelError("scenario.name: must not be empty")
        tiers, weights = self.leverage_tiers, self.leverage_weights
        if not tiers or len(tiers) != len(weights):
            raise ModelError("scenario.leverage_weights: need one weight per leverage tier")
        if any(not 2.0 <= lev <= MAX_LEVERAGE for lev in tiers):
            raise ModelError(f"scenario.leverage_tiers: each tier must be in [2, {MAX_LEVERAGE:g}]")
        if any(w < 0 for w in weights) or abs(sum(weights) - 1.0) > 1e-9:
            raise ModelError("scenario.leverage_weights: must be >= 0 and sum to 1")
        for share in ("long_share", "initial_long_share"):
            if not 0.0 <= getattr(self, share) <= 1.0:
                raise ModelError(f"scenario.{share}: must be in [0, 1]")
        for name in (
            "vol_per_day",
            "accounts_per_hour",
            "notional_median",
            "long_hold_days",
            "short_hold_days",
            "depth_1pct",
            "depth_exponent",
        ):
            if not getattr(self, name) > 0:
                raise ModelError(f"scenario.{name}: must be > 0")
        for name in (
            "reversion_per_day",
            "jumps_per_day",
            "jump_size",
            "notional_sigma",
            "initial_open_interest",
            "initial_spread",
            "background_volume_ratio",
            "background_lean",
        ):
            if not getattr(self, name) >= 0:
                raise ModelError(f"scenario.{name}: must be >= 0")
        if not 0.0 <= self.late_share <= 1.0:
            raise ModelError("scenario.late_share: must be in [0, 1]")
        if not 0.0 <= self.impact_persistence <= 1.0:
            raise ModelError("scenario.impact_persistence: must be in [0, 1]")
        if not 0.0 <= self.close_taker_share <= 1.0:
            raise ModelError("scenario.close_taker_share: must be in [0, 1]")
        if not 0.0 < self.leveraged_share <= 1.0:
            raise ModelError("scenario.leveraged_share: must be in (0, 1]")
        if self.oi_unit not in ("base", "usd"):
            raise ModelError(f"scenario.oi_unit: {self.oi_unit!r} is not 'base' or 'usd'")


def hold_days(half_life_hours: float) -> float:
    """Mean holding time (days) of positions that close with a half-life of ``half_life_hours``.

    Voluntary closes are memoryless (geometric per candle), so half of the positions open
    at any moment are still open ``half_life_hours`` later, whatever their age.
    """
    return half_life_hours / math.log(2.0) / 24.0


def steady_accounts_per_hour(
    open_interest_usd: float,
    half_life_hours: float,
    notional_median: float = 120_000.0,
    notional_sigma: float = 1.0,
) -> float:
    """New accounts per hour that replace the closes and keep ``open_interest_usd`` flat.

    In steady state opened notional per hour x mean holding time = open interest; the
    defaults are :class:`Scenario`'s notional distribution.
    """
    mean_notional = notional_median * math.exp(notional_sigma**2 / 2.0)
    return open_interest_usd / (hold_days(half_life_hours) * 24.0) / mean_notional


_CHURN_HALF_LIFE_H: Final = 6.0
_INDEPENDENT_HALF_LIFE_H: Final = 8.0
_PASSIVE_HALF_LIFE_H: Final = 24.0

_SEED: Final = Scenario(
    name="seed",
    description="Shorts pile in while price grinds up, then dips: a short-liquidation wall 5-15 % above, thin longs below.",
    drift_per_day=0.015,
    vol_per_day=0.012,
    late_drift_per_day=-0.05,
    late_share=0.08,
    jumps_per_day=0.3,
    long_share=0.07,
    initial_long_share=0.3,
    long_hold_days=3.0,
    short_hold_days=6.0,
)
#: Leverage concentrated on 20x-50x (90 %), between the model's default tiers.
_MID_TIERS: Final = (10.0, 20.0, 30.0, 40.0, 50.0, 75.0)
_MID_WEIGHTS: Final = (0.05, 0.30, 0.25, 0.15, 0.20, 0.05)

_ALL: Final = (
    _SEED,
    Scenario(
        name="balanced",
        description="A plain random-walk week with as many longs as shorts opened.",
    ),
    Scenario(
        name="long-heavy",
        description="Longs pile in while price bleeds down, then bounces: a long-liquidation wall below, thin shorts above.",
        drift_per_day=-0.015,
        vol_per_day=0.012,
        late_drift_per_day=0.05,
        late_share=0.08,
        jumps_per_day=0.3,
        long_share=0.93,
        initial_long_share=0.7,
        long_hold_days=6.0,
        short_hold_days=3.0,
    ),
    Scenario(
        name="high-leverage",
        description="Traders favour 50x-100x and the book is thin: frequent liquidation cascades.",
        leverage_tiers=(10.0, 25.0, 50.0, 75.0, 100.0),
        leverage_weights=(0.10, 0.15, 0.30, 0.20, 0.25),
        jumps_per_day=1.5,
        jump_size=0.012,
        depth_1pct=250.0e6,
        impact_persistence=0.4,
    ),
    Scenario(
        name="chop",
        description="Range-bound, mean-reverting price: both sides get flushed at the range edges.",
        vol_per_day=0.03,
        reversion_per_day=6.0,
        jumps_per_day=0.2,
        long_hold_days=2.0,
        short_hold_days=2.0,
    ),
    # -- scenarios that break the model's assumptions (one each, then several at once) --
    Scenario(
        name="churn",
        description="Positions close on their own with a 6 h half-life and new ones replace them: open interest flat, the book turns over.",
        background_exact=True,
        accounts_per_hour=steady_accounts_per_hour(5.0e9, _CHURN_HALF_LIFE_H),
        long_hold_days=hold_days(_CHURN_HALF_LIFE_H),
        short_hold_days=hold_days(_CHURN_HALF_LIFE_H),
    ),
    Scenario(
        name="leaning-volume",
        description="Openers lean long (60 %) and background volume, 3x the opened notional, leans with them twice as hard: taker flow overstates the opened side.",
        background_exact=True,
        drift_per_day=0.01,
        long_share=0.6,
        background_volume_ratio=3.0,
        background_lean=2.0,
    ),
    Scenario(
        name="passive-closes",
        description="Three closes in four are limit orders that make no taker trade (1-day half-life, open interest steady); openers lean long (60 %).",
        background_exact=True,
        drift_per_day=0.01,
        long_share=0.6,
        accounts_per_hour=steady_accounts_per_hour(5.0e9, _PASSIVE_HALF_LIFE_H),
        long_hold_days=hold_days(_PASSIVE_HALF_LIFE_H),
        short_hold_days=hold_days(_PASSIVE_HALF_LIFE_H),
        close_taker_share=0.25,
    ),
    Scenario(
        name="light-leverage",
        description="Traders use 2x-20x, lighter than the model's default mix: levels far from price.",
        background_exact=True,
        leverage_tiers=(2.0, 3.0, 5.0, 10.0, 20.0),
        leverage_weights=(0.15, 0.20, 0.30, 0.25, 0.10),
    ),
    Scenario(
        name="heavy-leverage",
        description="Traders use 25x-125x, heavier than the model's default mix (the book and price as in balanced).",
        background_exact=True,
        leverage_tiers=(25.0, 50.0, 75.0, 100.0, 125.0),
        leverage_weights=(0.15, 0.25, 0.25, 0.20, 0.15),
    ),
    Scenario(
        name="mid-leverage",
        description="Leverage concentrated on 20x-50x (90 %), between the model's tiers.",
        background_exact=True,
        leverage_tiers=_MID_TIERS,
        leverage_weights=_MID_WEIGHTS,
    ),
    replace(
        _SEED,
        name="oi-usd",
        description="The seed market bit for bit, but its source publishes open interest in USD (base x close), not base units.",
        oi_unit="usd",
    ),
    Scenario(
        name="independent",
        description="Several at once: 8 h half-life churn, leaning background 3x, half the closes passive, 20x-50x leverage, a long-leaning uptrend that dips.",
        background_exact=True,
        drift_per_day=0.012,
        late_drift_per_day=-0.04,
        late_share=0.08,
        vol_per_day=0.018,
        long_share=0.62,
        initial_long_share=0.55,
        accounts_per_hour=steady_accounts_per_hour(5.0e9, _INDEPENDENT_HALF_LIFE_H),
        long_hold_days=hold_days(_INDEPENDENT_HALF_LIFE_H),
        short_hold_days=hold_days(_INDEPENDENT_HALF_LIFE_H),
        background_volume_ratio=3.0,
        background_lean=1.5,
        close_taker_share=0.5,
        leverage_tiers=_MID_TIERS,
        leverage_weights=_MID_WEIGHTS,
    ),
)

#: Scenarios by name.
SCENARIOS: Final[Mapping[str, Scenario]] = MappingProxyType({s.name: s for s in _ALL})


def resolve_scenario(scenario: str | Scenario) -> Scenario:
    """The scenario itself, or the named one; an unknown name lists the available ones."""
    if isinstance(scenario, Scenario):
        return scenario
    try:
        return SCENARIOS[scenario]
    except KeyError:
        names = ", ".join(SCENARIOS)
        raise ModelError(f"scenario {scenario!r} is unknown; available: {names}") from None
