"""The Discord adapter (discord.py): slash commands, buttons, embeds, the webhook outlet."""
