"""Open the Studio window: ``python main.py [PROJECT.studio]``."""

import sys

from studio.cli.main import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], window=True))
