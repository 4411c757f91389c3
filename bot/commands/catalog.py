"""The bot's command set, assembled from the handler groups and the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.analysis.service import MarketService
from bot.commands.alert_cmds import AlertCommands
from bot.commands.info_cmds import InfoCommands
from bot.commands.market_cmds import CommandDefaults, MarketCommands
from bot.commands.parsing import range_for_ms
from bot.commands.registry import Commands
from bot.commands.throttle import Throttle
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
) -> Commands:
    """Every command (info first, then market, then alerts when ``subscriptions`` is given),
    bound to ``service``; ``throttle`` limits how fast one user may send commands."""
    defaults = defaults or CommandDefaults()
    info = InfoCommands(service, default_symbol=defaults.symbol)
    market = MarketCommands(service, defaults)
    specs = (*info.specs(), *market.specs())
    if subscriptions is not None:
        specs = (*specs, *AlertCommands(service, subscriptions, alert_defaults).specs())
    return Commands(specs, exchanges=service.exchanges, throttle=throttle)
