"""The bot's command set, assembled from the handler groups and the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.analysis.service import MarketService
from bot.commands.accuracy_cmds import AccuracyCommands
from bot.commands.alert_cmds import AlertCommands
from bot.commands.comeback import Comeback
from bot.commands.delivery_status import DeliveryReport
from bot.commands.info_cmds import InfoCommands
from bot.commands.market_cmds import CommandDefaults, MarketCommands
from bot.commands.registry import Commands
from bot.commands.throttle import Throttle
from bot.commands.values import range_for_ms
from bot.notify.retry import DeliveryStats
from bot.state.gone import GoneChats
from bot.state.subscriptions import Subscriptions

if TYPE_CHECKING:
    from bot.config.settings import AlertSettings, Settings

__all__ = ["TEMPLATE_NAMES", "build_commands", "defaults_from_settings"]

#: Every neutral template a reply may name (``check_templates`` requires each).
TEMPLATE_NAMES: tuple[str, ...] = (
    "start",
    "help",
    "status",
    "error",
    "heatmap",
    "map",
    "imbalance",
    "levels",
    "cascade",
    "accuracy",
)


def defaults_from_settings(settings: Settings, *, exchange: str = "all") -> CommandDefaults:
    """Defaults for omitted arguments: ``[telegram] default_symbol/default_range``, ``[model] window``."""
    return CommandDefaults(
        symbol=settings.telegram.default_symbol,
        range=range_for_ms(settings.telegram.default_range),
        exchange=exchange,
        window=settings.model.window,
        tracked=tuple(settings.market.symbols),
    )


def build_commands(
    service: MarketService,
    defaults: CommandDefaults | None = None,
    *,
    subscriptions: Subscriptions | None = None,
    alert_defaults: AlertSettings | None = None,
    throttle: Throttle | None = None,
    delivery_stats: DeliveryStats | None = None,
) -> Commands:
    """Every command (info first, then market, then alerts when ``subscriptions`` is given),
    bound to ``service``; ``throttle`` limits how fast one user may send commands.

    With ``subscriptions``, ``/status`` also reports delivery problems (the alerts', and the
    replies' from ``delivery_stats``, the adapters' shared retry statistics), and a chat
    whose alerts were dropped because the bot could not reach it is told so once, in front
    of its next reply (:mod:`bot.commands.comeback`)."""
    defaults = defaults or CommandDefaults()
    delivery = (
        DeliveryReport(subscriptions, delivery_stats, clock=service.clock)
        if subscriptions is not None
        else None
    )
    info = InfoCommands(service, default_symbol=defaults.symbol, delivery=delivery)
    market = MarketCommands(service, defaults)
    specs = (*info.specs(), *market.specs(), *AccuracyCommands(service, defaults).specs())
    notices = None
    if subscriptions is not None:
        specs = (*specs, *AlertCommands(service, subscriptions, alert_defaults).specs())
        notices = Comeback(GoneChats(subscriptions.store))
    return Commands(
        specs,
        exchanges=service.exchanges,
        throttle=throttle,
        notices=notices,
        tracked=defaults.tracked,
    )
