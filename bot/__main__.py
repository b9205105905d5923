"""`python -m bot` is `reports-bot run`."""

from bot.runner import leave, main

if __name__ == "__main__":
    leave(main())
