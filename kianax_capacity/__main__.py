"""``python -m kianax_capacity`` runs the CLI."""

import sys

from kianax_capacity.cli import main

sys.exit(main())
