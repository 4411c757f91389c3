"""liqwatch: the bot around the numeric core (core/). Its packages and their layers: docs/ARCHITECTURE.md."""
