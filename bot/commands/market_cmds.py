"""Market commands: /heatmap, /map, /imbalance, /levels, /cascade.

Each handler asks :class:`~bot.analysis.service.MarketService` for a chart or a view and returns a
:class:`~bot.reply.Reply` whose context carries *raw numbers and result objects*;
the templates format them (``usd``, ``price``, ``ratio`` filters) and label every model
output "est.". Buttons re-run the command with another range or exchange, as short
command lines that fit Telegram's 64-byte callback data.

Every reply names the range it actually drew: with less history than asked
(``/heatmap BTC 30d`` on 7 days of data) the caption, the buttons and the image say ``7d``
and the caption adds ``(30d asked)``. Markets are shown as traders write them (``BTC``,
``BTCUSDC``), not as ccxt's ``BTC/USDT:USDT``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.analysis.market_view import MarketView
from bot.analysis.service import MarketService
from bot.commands.spec import ArgumentError, Call, CommandSpec, Param
from bot.commands.values import check_price_bounds, price_as_typed
from bot.market.errors import UnknownSymbol
from bot.reply import RANGES, Button, ChartKind, Image, Range, Reply
from core.charts.canvas import analysis_span_ms
from core.charts.format import human_duration, human_price, market_name
from core.results import Cluster, DangerZone

__all__ = [
    "CommandDefaults",
    "MarketCommands",
    "drawn_range",
    "market_context",
    "short_symbol",
    "unknown_symbol_message",
]

#: a push closer than this to the current price is no push
_MIN_PUSH = 1e-4
#: a range covered less than this much by candles is "shorter than asked" (as the service)
_SHORT_HISTORY = 0.9

_T = TypeVar("_T")


@dataclass(frozen=True)
class CommandDefaults:
    """What an omitted argument means (from the ``[telegram]`` / ``[model]`` settings)."""

    symbol: str = "BTC"
    range: Range = RANGES[1]
    exchange: str = "all"
    window: float = 0.10
    #: the configured symbols (``[market] symbols``), listed when a symbol is unknown
    tracked: tuple[str, ...] = ()


def short_symbol(symbol: str) -> str:
    """``BTC/USDT:USDT`` → ``BTC``; ``BTC/USDC:USDC`` → ``BTCUSDC`` (what a button re-types,
    and what every reply shows)."""
    return market_name(symbol)


def drawn_range(view: MarketView) -> tuple[str, str | None]:
    """(the range label drawn, the label asked when the data covers less of it).

    ``("7d", "30d")`` for a 30d request on 7 days of candles; ``("7d", None)`` normally.
    """
    asked = view.range
    span = analysis_span_ms(view.analysis)
    if span <= 0 or span >= asked.ms * _SHORT_HISTORY:
        return asked.label, None
    listed = next((r.label for r in RANGES if abs(r.ms - span) <= 0.02 * r.ms), None)
    return listed or human_duration(span), asked.label


def unknown_symbol_message(exc: UnknownSymbol, tracked: tuple[str, ...]) -> str:
    """``Unknown symbol 'XRP'. Tracked here: BTC, ETH, SOL. To add one, list it in
    [market] symbols of the config.`` (with "Did you mean …?" when something is close)."""
    hint = f" Did you mean {', '.join(exc.suggestions)}?" if exc.suggestions else ""
    listed = f" Tracked here: {', '.join(tracked)}." if tracked else ""
    return (
        f"Unknown symbol '{exc.query}'.{hint}{listed} "
        "To add one, list it in [market] symbols of the config."
    )


def _top_cluster(view: MarketView) -> Cluster | None:
    clusters = view.analysis.clusters
    return max(clusters, key=lambda c: c.notional) if clusters else None


def _top_zone(view: MarketView) -> DangerZone | None:
    zones = view.analysis.zones
    return max(zones, key=lambda z: z.notional) if zones else None


def market_context(view: MarketView) -> dict[str, Any]:
    """The numbers every market reply shows: price, imbalance, top cluster and zone, notes."""
    a = view.analysis
    cluster = _top_cluster(view)
    drawn, asked = drawn_range(view)
    return {
        "symbol": short_symbol(view.symbol),
        "exchange": " + ".join(view.exchanges),
        "range": drawn,
        "range_asked": asked,
        "price": a.price,
        "as_of": a.as_of,
        "imbalance": a.imbalance,
        "heavy": "shorts above"
        if a.imbalance.short_above >= a.imbalance.long_below
        else "longs below",
        "cluster": cluster,
        "cluster_distance": cluster.distance_from(a.price) if cluster else 0.0,
        "zone": _top_zone(view),
        "notes": list(view.notes),
    }


class MarketCommands:
    """The market command handlers, bound to one service and its defaults."""

    def __init__(self, service: MarketService, defaults: CommandDefaults) -> None:
        self.service = service
        self.defaults = defaults

    async def _ask(self, work: Callable[[], Awaitable[_T]]) -> _T:
        """``work()``, an unknown symbol refused with the tracked ones and how to add one."""
        try:
            return await work()
        except UnknownSymbol as exc:
            raise ArgumentError(unknown_symbol_message(exc, self.defaults.tracked)) from None

    def _choices(self) -> tuple[str, ...]:
        """The exchange buttons: each exchange and ``all`` — or just the one exchange, when
        there is only one (``all`` would draw the same chart)."""
        exchanges = self.service.exchanges
        return exchanges if len(exchanges) == 1 else (*exchanges, "all")

    # --- specs -----------------------------------------------------------------------

    def _symbol(self, required: bool = False) -> Param:
        default = "" if required else f" (default {self.defaults.symbol})"
        return Param(
            "symbol",
            "symbol",
            required=required,
            default=None if required else self.defaults.symbol,
            help=f"market, e.g. BTC or ETHUSDT{default}",
        )

    def _range(self) -> Param:
        labels = ", ".join(r.label for r in RANGES)
        return Param(
            "range",
            "range",
            default=self.defaults.range,
            help=f"{labels} (default {self.defaults.range.label})",
        )

    def _exchange(self) -> Param:
        names = ", ".join([*self.service.exchanges, "all"])
        return Param(
            "exchange",
            "exchange",
            default=self.defaults.exchange,
            help=f"{names} (default {self.defaults.exchange})",
        )

    def specs(self) -> tuple[CommandSpec, ...]:
        ex = self.service.exchanges[0]
        window = Param(
            "window",
            "window",
            default=self.defaults.window,
            help=f"± price window, 1%–50% (default {self.defaults.window:.0%})",
        )
        price = Param(
            "price", "price", required=True, help="the price to push to, e.g. 105k or $98,500"
        )
        return (
            CommandSpec(
                "heatmap",
                "Estimated liquidation heatmap: where leveraged positions would be wiped out",
                (self._symbol(), self._range(), self._exchange()),
                ("heatmap BTC", f"heatmap ETH 7d {ex}"),
                handler=self.heatmap,
            ),
            CommandSpec(
                "map",
                "Estimated liquidation map now: notional per price level, shorts above, longs below",
                (self._symbol(), self._range(), self._exchange()),
                ("map BTC 3d",),
                handler=self.map,
            ),
            CommandSpec(
                "imbalance",
                "Shorts above vs longs below price within a window, with the ratio",
                (self._symbol(), window, self._range(), self._exchange()),
                ("imbalance BTC 5%", "imbalance ETH 7d"),
                handler=self.imbalance,
            ),
            CommandSpec(
                "levels",
                "Top liquidation clusters and danger zones, as text",
                (self._symbol(), self._range(), self._exchange()),
                ("levels ETH", "levels BTC 7d"),
                handler=self.levels,
            ),
            CommandSpec(
                "cascade",
                "Simulate a squeeze: push price to a level and follow the forced liquidations",
                (self._symbol(required=True), price, self._range(), self._exchange()),
                ("cascade BTC 105k", "cascade ETH 2.8k 7d"),
                handler=self.cascade,
            ),
        )

    # --- handlers ----------------------------------------------------------------------

    def _buttons(
        self, command: str, view: MarketView, choice: str
    ) -> tuple[tuple[Button, ...], ...]:
        base = short_symbol(view.symbol)
        drawn, _ = drawn_range(view)
        # the listed range drawn is highlighted; when none is (2.1d of data), the one asked
        shown = drawn if any(r.label == drawn for r in RANGES) else view.range.label
        ranges = tuple(
            Button(r.label, f"/{command} {base} {r.label} {choice}", r.label == shown)
            for r in RANGES
        )
        choices = self._choices()
        if choice not in choices:  # "all" with one exchange: that exchange's button
            choice = choices[0]
        exchanges = tuple(
            Button(c, f"/{command} {base} {view.range.label} {c}", c == choice) for c in choices
        )
        return (ranges, exchanges)

    def _image(self, kind: str, view: MarketView, png: bytes, alt: str) -> Image:
        name = f"{short_symbol(view.symbol)}-{kind}-{view.range.label}.png".lower()
        return Image(filename=name, data=png, alt=alt)

    async def _chart_reply(self, command: str, kind: ChartKind, call: Call) -> Reply:
        args = call.args
        choice: str = args["exchange"]
        chart = await self._ask(
            lambda: self.service.chart(kind, args["symbol"], args["range"], choice)
        )
        context = market_context(chart.view)
        alt = f"Estimated liquidation {command} of {context['symbol']}, {context['range']}"
        return Reply(
            command,
            context,
            images=(self._image(command, chart.view, chart.png, alt),),
            buttons=self._buttons(command, chart.view, choice),
        )

    async def heatmap(self, call: Call) -> Reply:
        """Heatmap PNG; caption: price, shorts above vs longs below, top cluster, zone."""
        return await self._chart_reply("heatmap", "heatmap", call)

    async def map(self, call: Call) -> Reply:
        """Liquidation map PNG with the same caption numbers as the heatmap."""
        return await self._chart_reply("map", "map", call)

    async def imbalance(self, call: Call) -> Reply:
        """Imbalance card PNG; text: totals, ratio and the distance bands."""
        window: float = call.args["window"]
        chart = await self._ask(
            lambda: self.service.chart(
                "card",
                call.args["symbol"],
                call.args["range"],
                call.args["exchange"],
                window=window,
            )
        )
        context = market_context(chart.view)
        context["bands"] = list(chart.view.analysis.imbalance.bands)
        alt = f"Estimated liquidation imbalance of {context['symbol']}, {context['range']}"
        return Reply(
            "imbalance", context, images=(self._image("imbalance", chart.view, chart.png, alt),)
        )

    async def levels(self, call: Call) -> Reply:
        """Top clusters and danger zones as text, nearest first."""
        view = await self._ask(
            lambda: self.service.view(
                call.args["symbol"], call.args["range"], call.args["exchange"]
            )
        )
        a = view.analysis
        context = market_context(view)
        context["clusters"] = sorted(a.clusters, key=lambda c: abs(c.price - a.price))
        context["zones"] = sorted(a.zones, key=lambda z: abs((z.low + z.high) / 2 - a.price))
        return Reply("levels", context)

    async def cascade(self, call: Call) -> Reply:
        """Cascade chart; text: forced notional, final price, rounds, R."""
        push: float = call.args["price"]
        view = await self._ask(
            lambda: self.service.view(
                call.args["symbol"], call.args["range"], call.args["exchange"]
            )
        )
        current = view.analysis.price
        check_price_bounds(
            push,
            current,
            shown=price_as_typed(push),
            current_shown=human_price(current),
            fmt=human_price,
        )
        if abs(push / current - 1) < _MIN_PUSH:
            raise ArgumentError(
                f"Price {human_price(push)} is the current price: pick a level above or below it."
            )
        chart = await self.service.chart(
            "cascade",
            call.args["symbol"],
            call.args["range"],
            call.args["exchange"],
            push_price=push,
        )
        a = chart.view.analysis
        result = a.cascade_up if push > current else a.cascade_down
        if result is None:  # pragma: no cover - the engine always sets the pushed side
            raise RuntimeError("cascade result missing after simulation")
        context = market_context(chart.view)
        context["cascade"] = result
        context["direction"] = "up" if result.direction > 0 else "down"
        alt = f"Simulated liquidation cascade of {context['symbol']} to {human_price(push)}"
        return Reply(
            "cascade", context, images=(self._image("cascade", chart.view, chart.png, alt),)
        )
