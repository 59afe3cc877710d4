"""Where a screen's stylesheet lives: a ``.tcss`` file beside its module."""

from __future__ import annotations

from pathlib import Path


def stylesheet(module_file: str, name: str) -> str:
    """The absolute path of ``name`` beside ``module_file``, for a screen's ``CSS_PATH``.

    Absolute because Textual resolves a relative ``CSS_PATH`` from the file of the class that is
    instantiated, which for a subclass defined elsewhere is the wrong folder. A screen's
    stylesheet applies to the whole app, so its rules start with the screen's class name."""
    return str(Path(module_file).with_name(name))
