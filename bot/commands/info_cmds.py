"""Information commands: /start, /help (generated from the specs) and /status."""

from __future__ import annotations

from typing import Any

from bot.analysis.service import MarketService
from bot.commands.delivery_status import DeliveryReport
from bot.commands.feeds_status import status_feeds
from bot.commands.spec import Call, CommandSpec
from bot.reply import Reply

__all__ = ["InfoCommands", "help_entries"]


def help_entries(specs: tuple[CommandSpec, ...]) -> list[dict[str, Any]]:
    """One entry per command: usage, summary, parameter help and its first example."""
    return [
        {
            "name": spec.name,
            "usage": spec.usage,
            "summary": spec.summary,
            "params": [{"usage": p.usage, "help": p.help} for p in spec.params if p.help],
            "example": f"/{spec.examples[0]}" if spec.examples else spec.usage,
            "admin": spec.admin,
        }
        for spec in specs
    ]


class InfoCommands:
    """/start, /help and /status, bound to one service."""

    def __init__(
        self,
        service: MarketService,
        *,
        default_symbol: str,
        delivery: DeliveryReport | None = None,
    ) -> None:
        self.service = service
        self.default_symbol = default_symbol
        #: the delivery lines of /status (templates/_delivery.j2); None: not shown
        self.delivery = delivery

    def specs(self) -> tuple[CommandSpec, ...]:
        return (
            CommandSpec(
                "start",
                "What this bot does and how to begin",
                examples=("start",),
                handler=self.start,
            ),
            CommandSpec(
                "help",
                "Every command with its usage and an example",
                examples=("help",),
                handler=self.help,
            ),
            CommandSpec(
                "status",
                "Data freshness per exchange and symbol",
                examples=("status",),
                handler=self.status,
            ),
        )

    async def start(self, call: Call) -> Reply:
        return Reply(
            "start", {"symbol": self.default_symbol, "exchanges": list(self.service.exchanges)}
        )

    async def help(self, call: Call) -> Reply:
        visible = tuple(s for s in call.specs if call.ctx.is_admin or not s.admin)
        return Reply("help", {"commands": help_entries(visible)})

    async def status(self, call: Call) -> Reply:
        now = self.service.clock()
        rows = []
        for status in await self.service.market_status():
            last = status.last_candle_at
            rows.append(
                {
                    "exchange": status.exchange,
                    "symbol": status.symbol,
                    "timeframe": status.timeframe,
                    "candles": status.candles,
                    "age_ms": None if last is None else max(0, now - last),
                    "last_error": status.last_error,
                }
            )
        context: dict[str, Any] = {"markets": rows, "exchanges": list(self.service.exchanges)}
        context["feeds"] = await status_feeds(self.service)  # templates/_feeds.j2
        if self.delivery is not None:
            context["delivery"] = await self.delivery.context(call.ctx)
        return Reply("status", context)
