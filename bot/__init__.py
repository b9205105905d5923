"""The Telegram bot, the terminal chat and the reports-bot command line."""
