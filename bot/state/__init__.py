"""What survives a restart: the SQLite store (candles, books, prints), subscriptions, rule state and alert delivery records."""
