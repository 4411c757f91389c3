"""The records the push path persists: a rule's state per chat and market, and a fired alert.

They live with the state (:mod:`bot.state.subscriptions` stores them) so that the alert
rules (:mod:`bot.notify.alerts`) and the store share them without the store importing the
rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.reply import ChartKind

__all__ = ["AlertEvent", "RuleState"]


@dataclass(frozen=True)
class RuleState:
    """Persisted per (chat, rule, exchange, symbol): armed, or fired at candle ``since``."""

    armed: bool = True
    since: int = 0

    def to_row(self) -> tuple[int, int]:
        return (1 if self.armed else 0, self.since)


@dataclass(frozen=True)
class AlertEvent:
    """A rule fired: the numbers that triggered it and the chart to attach.

    ``transition`` (the candle time at which the state flipped) makes the alert's key.
    """

    rule: str
    symbol: str
    exchange: str
    transition: int
    price: float
    chart: ChartKind
    numbers: Mapping[str, Any]

    def key(self, platform: str, chat_id: str) -> str:
        """Delivery key: one alert per chat, rule, market and transition."""
        return f"{platform}|{chat_id}|{self.rule}|{self.exchange}|{self.symbol}|{self.transition}"

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "symbol": self.symbol,
            "exchange": self.exchange,
            "transition": self.transition,
            "price": self.price,
            "chart": self.chart,
            "numbers": dict(self.numbers),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AlertEvent:
        return cls(
            rule=str(data["rule"]),
            symbol=str(data["symbol"]),
            exchange=str(data["exchange"]),
            transition=int(data["transition"]),
            price=float(data["price"]),
            chart=data["chart"],
            numbers=dict(data["numbers"]),
        )
