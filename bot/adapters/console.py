"""The console adapter: type commands at a prompt, read the text, find the charts on disk.

``liqwatch console`` runs the same :class:`~bot.commands.registry.Commands` the chat
platforms use, so a session reads like a chat::

    liqwatch> /heatmap BTC 7d
    BTC/USDT:USDT · sim · 7d — price $98,420
    ...
    image: out/console/btc-heatmap-7d.png
    buttons: [12h] /heatmap BTC 12h all  [24h] ...

The leading slash is optional. ``quit``, ``exit`` or end of input ends the session.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TextIO

from bot.commands.registry import Commands
from bot.reply import CallContext, Reply
from bot.reply.text import render_reply

__all__ = ["CONSOLE_CONTEXT", "PROMPT", "format_reply", "run_console"]

PROMPT = "liqwatch> "
#: the console user is the operator: admin commands are allowed
CONSOLE_CONTEXT = CallContext(
    platform="console", chat_id="console", user_id="console", is_admin=True, user_name="console"
)
_QUIT = frozenset({"quit", "exit", "/quit", "/exit"})


def format_reply(reply: Reply, out_dir: Path) -> str:
    """Plain text of ``reply``; images are written to ``out_dir`` and listed by path."""
    lines = [render_reply(reply, "console")]
    if reply.images:
        out_dir.mkdir(parents=True, exist_ok=True)
    for image in reply.images:
        path = out_dir / Path(image.filename).name
        path.write_bytes(image.data)
        lines.append(f"image: {path}")
    for row in reply.buttons:
        marks = (f"[{b.label}{'*' if b.selected else ''}] {b.command}" for b in row)
        lines.append("buttons: " + "  ".join(marks))
    return "\n".join(lines)


async def run_console(
    commands: Commands,
    *,
    out_dir: Path,
    input: TextIO,
    output: TextIO,
    ctx: CallContext = CONSOLE_CONTEXT,
) -> None:
    """Read command lines from ``input`` until ``quit``/EOF, answering each on ``output``."""
    while True:
        output.write(PROMPT)
        output.flush()
        line = await asyncio.to_thread(input.readline)
        if not line:
            output.write("\n")
            break
        text = line.strip()
        if not text:
            continue
        if text.lower() in _QUIT:
            break
        if not text.startswith("/"):
            text = "/" + text
        reply = await commands.run(text, ctx)
        if reply is None:
            output.write("(not a command — try /help)\n")
            continue
        output.write(format_reply(reply, out_dir) + "\n")
    output.flush()
