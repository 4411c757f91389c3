"""discord.py, imported once without its ``audioop`` DeprecationWarning.

discord.py's voice player imports the standard-library ``audioop`` module, which Python
3.11 marks deprecated at import time. liqwatch uses no voice; the warning is silenced
here, for that one import only, so ``filterwarnings = error`` stays strict elsewhere.
Import discord.py from this module: ``from bot.adapters.discord.lib import discord``.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*audioop.*", category=DeprecationWarning)
    import discord
    import discord.gateway
    import discord.http
    from discord import app_commands

__all__ = ["app_commands", "discord"]
