"""The long-running process: start components in order, run until a signal, stop in reverse.

``liqwatch run`` (see :mod:`bot.app.cli`) builds the components — store, market sources, the
Telegram and Discord adapters, the scheduler — and hands them here. This module knows
nothing about what they are: each has ``start()`` and ``stop()``; the scheduler is the
"main" coroutine that runs until the stop event is set.

Shutdown on SIGTERM/SIGINT is graceful: the stop event wakes the scheduler's sleep, the
cycle in flight finishes (its alerts are delivered or recorded as pending, see
:mod:`bot.state.subscriptions`), then adapters stop (PTB's updater, discord.py's gateway), then
the market sources close their HTTP sessions, then the store closes (SQLite checkpoints
its WAL). A component that fails to stop is logged and the rest still stop. A second
signal during shutdown is ignored (the grace period bounds it).

A component may also be *watched* (``Component.watch``: returns or raises when it has died on
its own, such as a Discord gateway closed for good): that shuts the process down too, with
exit code 1. A :class:`~bot.config.settings.ConfigError` from a start or a watch — a token
the platform refused — is logged as one line, without a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.config.settings import ConfigError

__all__ = ["Component", "interruptible_sleep", "serve", "startup_problems"]

if TYPE_CHECKING:
    from bot.config.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Component:
    """Something with a life cycle, named for the log."""

    name: str
    start: Callable[[], Awaitable[object]]
    stop: Callable[[], Awaitable[object]]
    #: ends (returns or raises) when the component died on its own; ``None``: never watched
    watch: Callable[[], Awaitable[object]] | None = None


def interruptible_sleep(stop: asyncio.Event) -> Callable[[float], Awaitable[None]]:
    """A sleep that returns early when ``stop`` is set (for the scheduler)."""

    async def sleep(seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))

    return sleep


async def serve(
    components: Sequence[Component],
    main: Callable[[asyncio.Event], Coroutine[Any, Any, object]],
    *,
    stop: asyncio.Event | None = None,
    grace_s: float = 30.0,
    handle_signals: bool = True,
) -> int:
    """Start ``components`` in order, run ``main(stop)`` until ``stop``, stop them in reverse.

    Returns the process exit code: 0 after a clean stop, 1 when a component failed to
    start or ``main`` crashed.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    if handle_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, _on_signal, sig, stop)
    started: list[Component] = []
    code = 0
    try:
        for component in components:
            log.info("starting %s", component.name)
            try:
                await component.start()
            except ConfigError as exc:
                log.error("%s failed to start: %s", component.name, "; ".join(exc.problems))
                return 1
            except Exception:
                log.exception("%s failed to start; shutting down", component.name)
                return 1
            started.append(component)
        log.info("liqwatch is running (%s)", ", ".join(c.name for c in started) or "nothing")
        main_task: asyncio.Task[object] = asyncio.create_task(main(stop), name="liqwatch-main")
        stop_task = asyncio.create_task(stop.wait(), name="liqwatch-stop")
        watches = [asyncio.create_task(_watch(c)) for c in started if c.watch is not None]
        done, _ = await asyncio.wait(
            {main_task, stop_task, *watches}, return_when=asyncio.FIRST_COMPLETED
        )
        if any(w in done for w in watches):  # a component died: stop the rest, exit 1
            code = 1
            stop.set()
        if main_task in done:
            stop.set()
            if main_task.exception() is not None:
                log.error("main loop crashed", exc_info=main_task.exception())
                code = 1
        else:
            log.info("stopping: letting the current cycle finish (up to %.0f s)", grace_s)
            try:
                await asyncio.wait_for(main_task, timeout=grace_s)
            except TimeoutError:
                log.warning("the current cycle did not finish within %.0f s; cancelled", grace_s)
            except Exception:
                log.exception("main loop failed while stopping")
                code = 1
        stop_task.cancel()
        for watch in watches:
            watch.cancel()
        return code
    finally:
        for component in reversed(started):
            log.info("stopping %s", component.name)
            try:
                await asyncio.wait_for(component.stop(), timeout=grace_s)
            except Exception:
                log.exception("%s did not stop cleanly", component.name)
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        log.info("liqwatch stopped")


async def _watch(component: Component) -> None:
    """Wait for ``component`` to die on its own, and say why."""
    assert component.watch is not None
    try:
        await component.watch()
    except ConfigError as exc:
        log.error("%s stopped: %s", component.name, "; ".join(exc.problems))
    except Exception:
        log.exception("%s stopped with an error", component.name)
    else:
        log.error("%s stopped on its own", component.name)


def _on_signal(sig: signal.Signals, stop: asyncio.Event) -> None:
    if stop.is_set():
        log.info("%s again: already stopping", sig.name)
        return
    log.info("%s received", sig.name)
    stop.set()


def startup_problems(settings: Settings) -> list[str]:
    """What would make ``run`` fail later, found now: templates, the storage folder."""
    from bot.commands.alert_cmds import ALERT_TEMPLATE_NAMES
    from bot.commands.catalog import TEMPLATE_NAMES
    from bot.notify.threads import check_thread_templates
    from bot.reply.text import check_templates

    problems = check_templates(required=(*TEMPLATE_NAMES, *ALERT_TEMPLATE_NAMES))
    problems += check_thread_templates()
    folder = settings.storage.path.resolve().parent
    if not folder.is_dir():
        problems.append(f"storage.path: folder {folder} does not exist; create it or change path")
    elif not os.access(folder, os.W_OK):
        problems.append(f"storage.path: folder {folder} is not writable by this user")
    if not (settings.telegram.enabled or settings.discord.enabled):
        problems.append(
            "telegram.enabled / discord.enabled: no platform is enabled, so nobody would hear "
            "the bot; enable one (and set its token in the environment), or try `liqwatch console`"
        )
    return problems
