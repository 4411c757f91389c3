"""Alert rules as data, and their pure evaluation: (rule, inputs, previous state) → (state, event).

A rule watches one market and has two states, **armed** and **fired**. It fires on the
*transition* armed → fired (never on every cycle the condition holds) and re-arms only once
its re-arm condition holds — for ``imbalance`` that is a hysteresis band (fires at ratio ≥ T,
re-arms below T·hysteresis); for the other rules it is simply "the condition no longer holds".
Cooldown (per chat, rule and symbol) and delivery bookkeeping live in
:mod:`bot.state.subscriptions`; this module does no I/O.

What each rule reads (:class:`AlertInputs`):

* ``imbalance`` — ``analysis.imbalance.ratio`` (heavy side / thin side, so both sides count);
* ``cluster`` — the top cluster (largest notional) within ``proximity`` of price, or price
  inside a danger zone;
* ``cascade`` — ``analysis.cascade_up`` / ``cascade_down``: a push within ``proximity`` of
  price whose ``r_ratio`` exceeds ``r`` (self-feeding squeeze close by);
* ``prints`` — the *reported* liquidation prints of the exchange (not the model's
  ``analysis.realized`` estimate, which is what we want to check, not alert on): their
  notional summed over the last ``window`` up to the analysis' last candle. The Analysis
  does not carry prints, so the scheduler fetches them and fills ``AlertInputs.prints``;
* ``oi`` — the open interest of the stored series: relative change over ``window``.

One market may be listed on several venues; the scheduler evaluates the rules once on the
aggregated market, with :func:`merge_prints` and :func:`summed_open_interest` combining the
venues' prints and open interest.

A rule without its input (no prints, no open interest) neither fires nor re-arms.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np

from bot.notify.followups import followup_reply
from bot.reply import ChartKind, Image, Reply
from bot.state.followups import FOLLOWUP_RULE
from bot.state.records import AlertEvent, RuleState
from core.charts.format import human_duration
from core.models import LiquidationPrints, MarketSeries
from core.results import Analysis

__all__ = [
    "RULES",
    "RULE_NAMES",
    "AlertInputs",
    "Check",
    "RuleKind",
    "alert_reply",
    "evaluate",
    "merge_prints",
    "rule_params",
    "summed_open_interest",
]

Mode = Literal["on", "silent", "off"]


@dataclass(frozen=True)
class AlertInputs:
    """What the rules look at for one market at one cycle."""

    analysis: Analysis
    exchange: str
    #: reported liquidation prints of the market (None: the exchange offers none)
    prints: LiquidationPrints | None = None
    #: recent stored candles with open interest (None: no OI for this market)
    series: MarketSeries | None = None


def merge_prints(parts: Sequence[LiquidationPrints]) -> LiquidationPrints | None:
    """Every venue's reported prints of one market as one time-sorted list (None: none given)."""
    return LiquidationPrints.merged(parts) if parts else None


def summed_open_interest(parts: Sequence[MarketSeries]) -> MarketSeries | None:
    """One market's open interest across venues: summed on the candle times all of them have.

    Venues that report no open interest at all are left out of the sum; a candle where a
    reporting venue has NaN is NaN in the sum (a gap stays a gap, never filled). The candle
    columns are the first reporting venue's — the ``oi`` rule reads only times and open
    interest. None when no venue reports open interest.
    """
    with_oi = [s for s in parts if s.open_interest is not None]
    if len(with_oi) <= 1:
        return with_oi[0] if with_oi else None
    times = functools.reduce(np.intersect1d, [s.timestamps for s in with_oi])
    total = np.zeros(len(times))
    for s in with_oi:
        assert s.open_interest is not None
        total += s.open_interest[np.searchsorted(s.timestamps, times)]
    first = with_oi[0]
    at = np.searchsorted(first.timestamps, times)
    return MarketSeries(
        timestamps=times,
        open=first.open[at],
        high=first.high[at],
        low=first.low[at],
        close=first.close[at],
        volume=first.volume[at],
        open_interest=total,
    )


@dataclass(frozen=True)
class Check:
    """One measurement: does the rule fire, may it re-arm, and the numbers behind it."""

    fire: bool
    rearm: bool
    numbers: Mapping[str, Any] = field(default_factory=dict)


CheckFn = Callable[[AlertInputs, Mapping[str, float]], Check | None]


@dataclass(frozen=True)
class RuleKind:
    """One alert rule: its parameters (``[alerts]`` setting names), chart and check.

    ``threshold`` names the parameter that ``/settings <rule> <threshold>`` overrides.
    """

    name: str
    summary: str
    chart: ChartKind
    params: Mapping[str, str]  # parameter → AlertSettings attribute
    threshold: str
    check: CheckFn


# --- checks -----------------------------------------------------------------------------------


def _imbalance(inputs: AlertInputs, p: Mapping[str, float]) -> Check:
    imb = inputs.analysis.imbalance
    ratio = imb.ratio
    numbers = {
        "ratio": ratio,
        "threshold": p["ratio"],
        "short_above": imb.short_above,
        "long_below": imb.long_below,
        "heavy": "shorts above" if imb.short_above >= imb.long_below else "longs below",
        "window": imb.window,
    }
    return Check(ratio >= p["ratio"], ratio < p["ratio"] * p["hysteresis"], numbers)


def _cluster(inputs: AlertInputs, p: Mapping[str, float]) -> Check:
    a = inputs.analysis
    numbers: dict[str, Any] = {"proximity": p["proximity"]}
    if a.clusters:
        top = max(a.clusters, key=lambda c: c.notional)
        distance = top.distance_from(a.price)
        numbers.update(
            cluster_price=top.price,
            cluster_notional=top.notional,
            cluster_side=top.side.name.lower(),
            distance=distance,
        )
        if abs(distance) <= p["proximity"]:
            return Check(True, False, numbers)
    for zone in a.zones:
        if zone.low <= a.price <= zone.high:
            numbers.update(
                zone_low=zone.low,
                zone_high=zone.high,
                zone_notional=zone.notional,
                zone_side=zone.side.name.lower(),
            )
            return Check(True, False, numbers)
    return Check(False, True, numbers)


def _cascade(inputs: AlertInputs, p: Mapping[str, float]) -> Check:
    a = inputs.analysis
    best: dict[str, Any] | None = None
    for cascade in (a.cascade_up, a.cascade_down):
        if cascade is None:
            continue
        push = cascade.push_price / a.price - 1.0
        if abs(push) > p["proximity"] or cascade.r_ratio <= p["r"]:
            continue
        if best is None or cascade.r_ratio > best["r_ratio"]:
            best = {
                "direction": "up" if cascade.direction > 0 else "down",
                "push_price": cascade.push_price,
                "push": push,
                "r_ratio": cascade.r_ratio,
                "final_price": cascade.final_price,
                "forced_notional": cascade.forced_notional,
            }
    if best is None:
        return Check(False, True, {"r": p["r"], "proximity": p["proximity"]})
    return Check(True, False, {**best, "r": p["r"], "proximity": p["proximity"]})


def _prints(inputs: AlertInputs, p: Mapping[str, float]) -> Check | None:
    prints = inputs.prints
    if prints is None:
        return None
    end = inputs.analysis.as_of + _candle_ms(inputs.analysis)
    start = end - p["window"]
    keep = (prints.times >= start) & (prints.times < end)
    total = float(prints.notionals[keep].sum())
    long_total = float(prints.notionals[keep & (prints.sides > 0)].sum())
    numbers = {
        "burst": total,
        "long": long_total,
        "short": total - long_total,
        "count": int(keep.sum()),
        "window_ms": int(p["window"]),
        "threshold": p["burst_usd"],
    }
    return Check(total >= p["burst_usd"], total < p["burst_usd"], numbers)


def _oi(inputs: AlertInputs, p: Mapping[str, float]) -> Check | None:
    series = inputs.series
    if series is None or series.open_interest is None or len(series) == 0:
        return None
    times, oi = series.timestamps, series.open_interest
    now = int(times[-1])
    past = int(np.searchsorted(times, now - p["window"], side="left"))
    then, current = float(oi[past]), float(oi[-1])
    if not (math.isfinite(then) and math.isfinite(current)) or then <= 0 or past == len(oi) - 1:
        return None
    change = current / then - 1.0
    numbers = {
        "change": change,
        "threshold": p["change"],
        "oi_then": then,
        "oi_now": current,
        "window_ms": int(p["window"]),
    }
    return Check(abs(change) >= p["change"], abs(change) < p["change"], numbers)


def _candle_ms(analysis: Analysis) -> int:
    times = analysis.candle_times
    return int(times[-1] - times[-2]) if len(times) >= 2 else 0


#: The rule table. Parameters come from ``[alerts]`` and may be overridden per chat.
RULES: Final[Mapping[str, RuleKind]] = {
    r.name: r
    for r in (
        RuleKind(
            "imbalance",
            "short-above / long-below ratio crosses a threshold (either side)",
            "card",
            {"ratio": "imbalance_ratio", "hysteresis": "imbalance_hysteresis"},
            "ratio",
            _imbalance,
        ),
        RuleKind(
            "cluster",
            "price comes within x % of the top cluster, or enters a danger zone",
            "map",
            {"proximity": "cluster_proximity"},
            "proximity",
            _cluster,
        ),
        RuleKind(
            "cascade",
            "a self-feeding squeeze (R > r) starts within x % of price",
            "cascade",
            {"r": "cascade_r", "proximity": "cascade_proximity"},
            "r",
            _cascade,
        ),
        RuleKind(
            "prints",
            "reported liquidations sum to $X within a window",
            "heatmap",
            {"burst_usd": "prints_burst_usd", "window": "prints_window"},
            "burst_usd",
            _prints,
        ),
        RuleKind(
            "oi",
            "open interest changes by x % within a window",
            "heatmap",
            {"change": "oi_change", "window": "oi_window"},
            "change",
            _oi,
        ),
    )
}
RULE_NAMES: Final[tuple[str, ...]] = tuple(RULES)


def rule_params(rule: RuleKind, defaults: Any, threshold: float | None = None) -> dict[str, float]:
    """The rule's parameters from ``defaults`` (an :class:`~bot.config.settings.AlertSettings`),
    with the chat's ``threshold`` override in place of the rule's threshold parameter."""
    params = {name: float(getattr(defaults, attr)) for name, attr in rule.params.items()}
    if threshold is not None:
        params[rule.threshold] = float(threshold)
    return params


def evaluate(
    rule: RuleKind, inputs: AlertInputs, prev: RuleState, params: Mapping[str, float]
) -> tuple[RuleState, AlertEvent | None]:
    """One step of the rule's state machine; an event only on armed → fired."""
    check = rule.check(inputs, params)
    if check is None:
        return prev, None
    a = inputs.analysis
    if prev.armed and check.fire:
        event = AlertEvent(
            rule=rule.name,
            symbol=a.symbol,
            exchange=inputs.exchange,
            transition=a.as_of,
            price=a.price,
            chart=rule.chart,
            numbers=check.numbers,
        )
        return RuleState(armed=False, since=a.as_of), event
    if not prev.armed and check.rearm:
        return RuleState(armed=True, since=a.as_of), None
    return prev, None


def alert_reply(
    event: AlertEvent,
    *,
    silent: bool = False,
    png: bytes | None = None,
    range_label: str | None = None,
) -> Reply:
    """The pushed message of an alert (template ``alert``), with its chart if rendered; of a
    follow-up, :func:`bot.notify.followups.followup_reply`."""
    if event.rule == FOLLOWUP_RULE:
        return followup_reply(event, silent=silent)
    images: tuple[Image, ...] = ()
    if png is not None:
        base = event.symbol.partition("/")[0].lower()
        images = (Image(f"{base}-{event.rule}-alert.png", png, f"{event.symbol} {event.rule}"),)
    window = human_duration(int(event.numbers.get("window_ms", 0)))
    context: dict[str, Any] = {
        **event.to_json(),
        "silent": silent,
        "window": window,
        "range": range_label,
    }
    return Reply("alert", context, images, silent=silent)
