"""`python -m shelver`: the same as the `shelver` command."""

import sys

from shelver.app.cli import main

sys.exit(main())
