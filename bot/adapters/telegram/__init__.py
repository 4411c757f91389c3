"""The Telegram adapter (python-telegram-bot): polling, sending, buttons, errors, text."""
