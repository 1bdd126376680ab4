import sys

from afterburner.cli import main

sys.exit(main())
