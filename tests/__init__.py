"""The test suite. Set here, before any test module or shelver is imported:"""

import os
import sys

# The files tests import were written whole a moment ago: a short settle window, set before
# shelver is imported, keeps every import from waiting the default second (the CLI and servers
# the tests start inherit it). Tests of files still being written write slower than this.
os.environ.setdefault("SHELVER_IMPORT_SETTLE_SECONDS", "0.2")

# Where the environment forbids writing bytecode (PYTHONDONTWRITEBYTECODE, set on the machines
# this suite runs on), every worker and every `shelver` the tests start compiled every module
# (and pytest re-rewrote every test file's asserts) from source on each run: 4 s of CPU per
# worker before the first test. The suite keeps its caches in the checkout's __pycache__ folders.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
