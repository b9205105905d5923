"""`python -m bot` is `reports-bot run`."""

import sys

from bot.runner import main

if __name__ == "__main__":
    sys.exit(main())
