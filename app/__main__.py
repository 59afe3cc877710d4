import sys

from shelver.app.cli import main

sys.exit(main())
