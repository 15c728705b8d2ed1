import sys

from solarmaggan.cli import main

sys.exit(main())
