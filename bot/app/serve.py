"""``liqwatch run``'s composition: the store, the market sources, the liquidation streams,
the enabled platforms, the scheduler, the thread poster and the map archive, wired
together and handed to :func:`bot.app.runtime.serve`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from bot.app.compose import build_service, build_sources

if TYPE_CHECKING:
    from bot.analysis.service import MarketService
    from bot.app.runtime import Component
    from bot.commands.registry import Commands
    from bot.config.settings import Settings
    from bot.market.port import MarketSource
    from bot.notify.outlets import Outlet
    from bot.notify.retry import DeliveryStats
    from bot.state.store import Store
    from bot.state.subscriptions import Subscriptions

__all__ = ["serve_bot"]


async def serve_bot(settings: Settings, store: Store) -> int:
    """Compose the long-running bot from the settings around ``store`` (opened and locked
    by the caller: :func:`bot.app.failures.open_storage`) and run it until a signal."""
    from bot.app.backfill import BackfillLog, expected_markets
    from bot.app.runtime import Component, interruptible_sleep, serve
    from bot.commands.catalog import build_commands, defaults_from_settings
    from bot.commands.throttle import Throttle
    from bot.commands.values import range_for_ms
    from bot.notify.autopost import AutoPoster
    from bot.notify.retry import DeliveryStats
    from bot.notify.scheduler import Scheduler
    from bot.state.subscriptions import Subscriptions

    stop = asyncio.Event()
    delivery = DeliveryStats()  # the adapters' retries, shared: /status reads it
    subs = Subscriptions(store)
    sources = build_sources(settings)
    service = build_service(settings, store, sources)
    commands = build_commands(
        service,
        defaults_from_settings(settings),
        subscriptions=subs,
        alert_defaults=settings.alerts,
        throttle=Throttle(),
        delivery_stats=delivery,
    )

    async def close_sources() -> None:
        for source in sources.values():
            await source.close()

    async def load_sources() -> None:
        for name, source in sources.items():
            try:
                await source.load()
            except Exception as err:  # the scheduler retries; the bot still answers from cache
                logging.getLogger("liqwatch").warning("market source %s not loaded: %s", name, err)

    async def close_store() -> None:  # last: every other component has stopped by then
        await asyncio.to_thread(store.close)

    watchers: dict[str, Any] = {}  # exchange → its prints watcher (the archive's feed state)
    components = [
        Component("store", _noop, close_store),
        Component("market sources", load_sources, close_sources),
        *_liquidation_streams(settings, store, watchers),
    ]
    platforms = _platforms(settings, commands, subs, service, sources, delivery)
    components += [component for component, _ in platforms]
    outlets = [outlet for _, outlet in platforms]

    refresh = settings.market.refresh
    poster = AutoPoster(settings.threads, service, subs, outlets)
    watched = (*settings.market.symbols, *poster.symbols)
    # the first cycle's fetch of every market, as a progress bar in the log, then "ready"
    service.refresh = BackfillLog(service.refresh, expected_markets(service.exchanges, watched))
    scheduler = Scheduler(
        service,
        subs,
        outlets,
        alert_settings=settings.alerts,
        watch=watched,
        on_cycle=[poster],
        every_ms=refresh.candles_every,
        jitter=refresh.jitter,
        range_=range_for_ms(settings.telegram.default_range),
        sleep=interruptible_sleep(stop),
        alert_deadline_ms=settings.alerts.retry_for,
    )
    from bot.notify.followups import Followups
    from bot.notify.recalibration import attach_recalibration

    alerts = settings.alerts  # "what happened next" replies; [model] recalibrate
    Followups(subs, exchanges=service.exchanges, timeframe=service.timeframe,
              horizon_ms=alerts.followup_horizon, cooldown_ms=alerts.cooldown,
              clock=service.clock).attach(scheduler)  # fmt: skip
    attach_recalibration(settings, service, store, scheduler, outlets)

    from bot.app.archive import archiver_component

    range_ = range_for_ms(settings.telegram.default_range)
    components.append(archiver_component(settings, service, store, watched, range_, watchers))

    async def main(stop: asyncio.Event) -> None:
        await scheduler.run(stop=stop)

    return await serve(components, main, stop=stop)


def _liquidation_streams(
    settings: Settings, store: Store, watchers: dict[str, Any] | None = None
) -> list[Component]:
    """One WebSocket liquidation watcher per exchange (ccxt source only: no REST history);
    each is also put in ``watchers`` by exchange id."""
    if settings.market.source != "ccxt":
        return []
    from bot.app.runtime import Component
    from bot.market.prints_stream import PrintsWatcher
    from core.models import LiquidationPrints

    async def save_prints(exchange: str, symbol: str, prints: LiquidationPrints) -> None:
        await asyncio.to_thread(store.save_prints, exchange, symbol, prints)

    streams = []
    for exchange_id in settings.market.exchanges:
        ex = settings.exchange(exchange_id)
        watcher = PrintsWatcher(
            exchange_id,
            list(settings.market.symbols),
            save_prints,
            api_base_url=str(ex.api_base_url) if ex.api_base_url else None,
            enable_rate_limit=ex.rate_limit,
        )
        if watchers is not None:
            watchers[exchange_id] = watcher
        streams.append(Component(f"{exchange_id} liquidation stream", watcher.start, watcher.stop))
    return streams


def _platforms(
    settings: Settings,
    commands: Commands,
    subs: Subscriptions,
    service: MarketService,
    sources: dict[str, MarketSource],
    delivery: DeliveryStats | None = None,
) -> list[tuple[Component, Outlet]]:
    """The enabled platforms: each one's life cycle and the outlet alerts are pushed through."""
    from bot.app.runtime import Component
    from bot.reply.text import render_reply

    platforms: list[tuple[Component, Outlet]] = []
    if settings.telegram.enabled:
        from bot.adapters.telegram.adapter import TelegramAdapter

        token = settings.telegram.token
        assert token is not None  # validated by the config

        async def chat_gone(chat_id: str) -> None:
            await asyncio.to_thread(subs.drop_chat, "telegram", chat_id)

        async def chat_moved(old: str, new: str) -> None:
            await asyncio.to_thread(subs.move_chat, "telegram", old, new)

        telegram = TelegramAdapter(
            token.get_secret_value(),
            commands,
            render_reply,
            api_base_url=str(settings.telegram.api_base_url),
            admin_ids=settings.telegram.admin_ids,
            on_chat_gone=chat_gone,
            on_chat_migrated=chat_moved,
            delivery_stats=delivery,
        )
        platforms.append((Component("telegram", telegram.start, telegram.stop), telegram))
    if settings.discord.enabled and settings.discord.token is not None:
        from bot.adapters.discord.adapter import DiscordAdapter

        async def symbols() -> list[str]:
            return [s for src in sources.values() for s in src.symbols()]

        discord_bot = DiscordAdapter(
            settings.discord.token.get_secret_value(),
            commands,
            render_reply,
            exchanges=service.exchanges,
            symbols=symbols,
            api_base_url=str(settings.discord.api_base_url),
            gateway_url=str(settings.discord.gateway_url),
            admin_channel_id=settings.discord.admin_channel_id,
            delivery_stats=delivery,
        )
        component = Component(
            "discord", discord_bot.start, discord_bot.stop, watch=discord_bot.wait_closed
        )
        platforms.append((component, discord_bot))
    elif settings.discord.enabled and settings.discord.webhook_url is not None:
        import aiohttp

        from bot.adapters.discord.webhook import DiscordWebhookOutlet

        session = aiohttp.ClientSession()
        url = settings.discord.webhook_url.get_secret_value()
        webhook = DiscordWebhookOutlet(
            url, session, render_reply, api_base_url=str(settings.discord.api_base_url)
        )
        platforms.append((Component("discord webhook", _noop, session.close), webhook))
    return platforms


async def _noop() -> None:
    return None
