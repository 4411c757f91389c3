"""Human number formats shared by the charts and the captions.

Three formats, each total (never raises for any float, including ``nan`` and ``inf``):

* :func:`human_usd` — a notional, compact: ``$1.2B``, ``$84.2K``, ``$980M``, ``-$3.4M``.
* :func:`human_price` — a price, full precision a trader reads: ``$98,420``, ``$182.34``,
  ``$0.5123``, ``$0.00001234``.
* :func:`human_ratio` — a bare ratio: ``14:1``, ``1.4:1``, ``∞:1``, ``1:14`` below one.
* :func:`imbalance_ratio` — *the* imbalance ratio every reply, card, chart, alert and
  thread shows: heavy side over thin side with the sides named, ``14:1 shorts over longs``
  or ``9.3:1 longs over shorts`` (never a bare ``9.3:1`` a reader takes for short-heavy).

Not-a-number renders as ``n/a`` so a caption never shows ``$nan``.
"""

from __future__ import annotations

import math
from typing import Final

__all__ = [
    "NOT_AVAILABLE",
    "human_duration",
    "human_price",
    "human_ratio",
    "human_usd",
    "imbalance_ratio",
    "market_name",
    "ratio_sides",
]

#: What every formatter returns for ``nan``.
NOT_AVAILABLE: Final = "n/a"

_UNITS: Final = ("", "K", "M", "B", "T")


def _compact(magnitude: float) -> str:
    """``magnitude`` (finite, >= 1000 or 0) with a unit suffix and 2–3 significant digits."""
    exponent = 0
    value = magnitude
    while value >= 1000 and exponent < len(_UNITS) - 1:
        value /= 1000
        exponent += 1
    text = f"{value:.1f}"
    if float(text) >= 100:
        text = f"{value:.0f}"
        if float(text) >= 1000 and exponent < len(_UNITS) - 1:
            # 999.6K rounds to 1000K: say 1.0M instead.
            return _compact(1000.0 ** (exponent + 1))
    if exponent == len(_UNITS) - 1 and float(text) >= 1000:
        text = f"{value:,.0f}"
    return text + _UNITS[exponent]


def human_usd(x: float) -> str:
    """A dollar notional in compact form: ``$1.2B``, ``$84.2K``, ``$980M``, ``$512``.

    One decimal below 100 of the unit, none above (``$14.0B``, ``$980M``); amounts under
    $1,000 are shown as dollars (``$512``, ``$9.84``, ``$0.51``).
    """
    if math.isnan(x):
        return NOT_AVAILABLE
    sign = "-" if x < 0 else ""
    magnitude = abs(x)
    if math.isinf(magnitude):
        return f"{sign}$∞"
    if magnitude >= 999.5:
        return f"{sign}${_compact(magnitude)}"
    if magnitude >= 99.5:
        return f"{sign}${magnitude:.0f}"
    if magnitude >= 9.995:
        return f"{sign}${magnitude:.1f}"
    if magnitude >= 0.005:
        return f"{sign}${magnitude:.2f}"
    if magnitude == 0:
        return "$0"
    return f"{sign}<$0.01" if sign == "" else "-<$0.01"


def _price_decimals(magnitude: float) -> int:
    """Decimals that show ~4 significant digits, at least cents below $1,000, at most 10."""
    if magnitude >= 1000:
        return 0
    if magnitude == 0:
        return 2
    digits = 3 - math.floor(math.log10(magnitude))
    return min(10, max(2, digits))


def human_price(x: float) -> str:
    """A price: ``$98,420`` (whole dollars from $1,000), ``$182.34``, ``$0.5123``."""
    if math.isnan(x):
        return NOT_AVAILABLE
    sign = "-" if x < 0 else ""
    magnitude = abs(x)
    if math.isinf(magnitude):
        return f"{sign}$∞"
    decimals = _price_decimals(magnitude)
    text = f"{magnitude:,.{decimals}f}"
    if decimals and float(text.replace(",", "")) >= 1000:
        text = f"{magnitude:,.0f}"  # 999.996 rounds up to 1,000.00: drop the cents
    return f"{sign}${text}"


def _ratio_number(r: float) -> str:
    """``r`` >= 1: one decimal below 10 (``.0`` dropped), whole numbers from 10."""
    one_decimal = f"{r:.1f}"
    if float(one_decimal) < 10:
        return one_decimal.removesuffix(".0")
    return f"{r:,.0f}"


def human_ratio(r: float) -> str:
    """A heavy-to-thin ratio: ``14:1``, ``1.4:1``, ``2:1``, ``∞:1``; below one ``1:14``.

    ``nan`` and negative ratios are not ratios and render as ``n/a``; ``0`` is ``1:∞``.
    """
    if math.isnan(r) or r < 0:
        return NOT_AVAILABLE
    if math.isinf(r):
        return "∞:1"
    if r == 0:
        return "1:∞"
    if r >= 1 or float(f"{1 / r:.1f}") <= 1:
        return f"{_ratio_number(max(r, 1.0))}:1"
    inverse = 1 / r
    if math.isinf(inverse):
        return "1:∞"
    return f"1:{_ratio_number(inverse)}"


def market_name(symbol: str) -> str:
    """A market as traders write it: ``BTC/USDT:USDT`` → ``BTC``, ``BTC/USDC:USDC`` →
    ``BTCUSDC``; a name without a quote is returned as it is."""
    base, _, quote = symbol.partition(":")[0].partition("/")
    return base if quote in ("", "USDT") else f"{base}{quote}"


def ratio_sides(short_above: float, long_below: float) -> str:
    """``shorts over longs`` / ``longs over shorts`` — which side the ratio puts on top."""
    return "shorts over longs" if short_above >= long_below else "longs over shorts"


def imbalance_ratio(short_above: float, long_below: float) -> str:
    """The imbalance as one convention everywhere: heavy over thin, sides named.

    ``14:1 shorts over longs`` (a squeeze-up setup), ``9.3:1 longs over shorts`` (a
    flush-down setup), ``1:1 even`` when the rounded ratio is one, ``∞:1 shorts over longs``
    when the thin side is empty, ``n/a`` for ``nan`` or negative totals or no levels at all.
    """
    if (
        math.isnan(short_above)
        or math.isnan(long_below)
        or short_above < 0
        or long_below < 0
        or (short_above == 0 and long_below == 0)
    ):
        return NOT_AVAILABLE
    heavy, thin = max(short_above, long_below), min(short_above, long_below)
    ratio = human_ratio(heavy / thin if thin > 0 else math.inf)
    if ratio == "1:1":
        return "1:1 even"
    return f"{ratio} {ratio_sides(short_above, long_below)}"


def human_duration(ms: float) -> str:
    """A time span for titles: ``7d``, ``36h``, ``1h``, ``45m``; days from 48 h, hours from 2 h
    (or whole hours)."""
    if math.isnan(ms) or ms <= 0:
        return NOT_AVAILABLE
    minutes = ms / 60_000
    if math.isinf(minutes):
        return "∞"
    if minutes >= 48 * 60:
        days = minutes / 1440
        return f"{days:.0f}d" if abs(days - round(days)) < 0.05 else f"{days:.1f}d"
    if minutes >= 120 or (minutes >= 60 and minutes % 60 == 0):
        return f"{minutes / 60:.0f}h"
    return f"{minutes:.0f}m"
