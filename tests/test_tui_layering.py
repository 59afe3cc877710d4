"""`data/` is the UI-free layer: importing all of it must not load Textual (or the app)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import shelver.data

REPOSITORY = Path(__file__).resolve().parents[1]
FORBIDDEN = ("textual", "shelver.app", "shelver.screens", "shelver.widgets")


def data_modules() -> list[str]:
    """Every module under data/, sub-packages included."""
    return sorted(
        m.name for m in pkgutil.walk_packages(shelver.data.__path__, prefix="shelver.data.")
    )


def test_every_data_module_is_found() -> None:
    modules = data_modules()
    assert {
        "shelver.data.db",
        "shelver.data.books",
        "shelver.data.overview",
        "shelver.data.demo_seed",
    } <= set(modules)


def test_data_never_imports_the_ui() -> None:
    script = (
        "import importlib, json, sys\n"
        f"for name in {data_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        f"loaded = [m for m in {FORBIDDEN!r} if m in sys.modules]\n"
        "print(json.dumps(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
