"""The Telegram bot (python-telegram-bot): the informant conversation and researchers' commands."""
