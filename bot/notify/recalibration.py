"""``[model] recalibrate`` in ``liqwatch run``: the daily :class:`~bot.analysis.recalibrate.Recalibrator`
on the scheduler, telling the admins through the outlets, tuning the running engine.

:func:`attach_recalibration` is what the composition root calls once, before the scheduler
runs: in ``auto`` mode the settings adopted before a restart are put back first
(:func:`~bot.analysis.recalibrate.load_adopted`: unless ``[model]`` was edited since).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.analysis.engine import CoreEngine
from bot.analysis.params import engine_params
from bot.analysis.recalibrate import Recalibrator, load_adopted
from bot.analysis.service import MarketService
from bot.config.settings import Settings
from bot.notify.admin import AdminNotices
from bot.notify.outlets import Outlet
from bot.state.store import Store
from core.levels import EngineParams

if TYPE_CHECKING:
    from bot.notify.scheduler import Scheduler

__all__ = ["attach_recalibration"]

log = logging.getLogger(__name__)


def attach_recalibration(
    settings: Settings,
    service: MarketService,
    store: Store,
    scheduler: Scheduler,
    outlets: Sequence[Outlet],
) -> Recalibrator | None:
    """Run the recalibration of ``settings.model.recalibrate`` from the scheduler's cycles
    (None: ``off``, or an engine that cannot be tuned)."""
    mode = settings.model.recalibrate
    engine = service.engine
    if mode == "off" or not isinstance(engine, CoreEngine):
        return None
    config = engine_params(settings.model, synthetic=settings.market.source == "sim")

    def current() -> EngineParams:
        params: EngineParams = engine.params.engine
        return params

    def adopt(params: EngineParams) -> None:
        engine.params = dataclasses.replace(engine.params, engine=params)

    if mode == "auto":
        adopted = load_adopted(store, config)
        if adopted is not None:
            adopt(adopted)
    notices = AdminNotices(
        outlets,
        telegram_admins=settings.telegram.admin_ids,
        discord_channel=settings.discord.admin_channel_id,
    )
    recalibrator = Recalibrator(
        store,
        mode=mode,
        timeframe=service.timeframe,
        lookback_ms=service.lookback_ms,
        every_ms=settings.archive.every,
        config=config,
        current=current,
        adopt=adopt,
        clock=service.clock,
        notify=notices,
    )
    scheduler.on_cycle.append(recalibrator)
    log.info("recalibrate = %r: daily, from the archive and the prints", mode)
    return recalibrator
