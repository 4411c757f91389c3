"""One package per platform (Telegram, Discord) and the console; each only translates to and from its platform."""
