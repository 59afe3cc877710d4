"""A path prompt that completes from the file system: the completion shows greyed out as you
type, tab (or right arrow) takes it, and the entries that still match are listed beneath."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import Input

MAX_LISTED = 200
"""Entries of one folder considered for completion (a huge folder must not stall typing)."""


@dataclass(frozen=True)
class Completion:
    """What the typed text can grow into."""

    value: str
    """The longest text every match starts with (``value`` itself when nothing matches)."""
    matches: list[str] = field(default_factory=list)
    """Names in the folder that match, folders with a trailing ``/``."""


def _entries(folder: Path) -> list[str]:
    names: list[str] = []
    try:
        with os.scandir(folder) as scan:
            for entry in scan:
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                names.append(entry.name + ("/" if is_dir else ""))
                if len(names) >= MAX_LISTED * 5:
                    break
    except OSError:
        return []
    return sorted(names, key=str.casefold)


def complete(value: str) -> Completion:
    """Complete the last part of ``value`` from the folder it names (``~`` understood).

    Hidden entries are offered only once a ``.`` is typed; a case-insensitive match is used
    when nothing matches exactly.
    """
    if not value:
        return Completion(value)
    head, _, stem = value.rpartition("/")
    folder_text = head + "/" if value.startswith("/") or head else ""
    folder = Path(os.path.expanduser(folder_text or "."))
    names = [n for n in _entries(folder) if stem.startswith(".") or not n.startswith(".")]
    matches = [n for n in names if n.startswith(stem)]
    if not matches:
        matches = [n for n in names if n.casefold().startswith(stem.casefold())]
    if not matches:
        return Completion(value)
    common = os.path.commonprefix(matches)  # noqa: RUF071 - names, not paths
    if len(common) < len(stem) or not common.startswith(stem):
        # Only case-insensitive matches: keep what was typed, offer the names below.
        return Completion(value, matches[:MAX_LISTED])
    return Completion(folder_text + common, matches[:MAX_LISTED])


class PathSuggester(Suggester):
    """Offers the completion of a path as the Input's suggestion (never cached: folders change)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        completion = await asyncio.to_thread(complete, value)
        return completion.value if completion.value != value else None


class PathInput(Input):
    """An Input for a file or folder path; tab completes instead of moving the focus."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "complete", "Complete", show=False, priority=True),
    ]

    def __init__(self, value: str = "", **kwargs: object) -> None:
        super().__init__(value, suggester=PathSuggester(), **kwargs)  # type: ignore[arg-type]
        self.matches: list[str] = []
        """The entries that matched at the last completion (shown by the dialog)."""

    async def action_complete(self) -> None:
        completion = await asyncio.to_thread(complete, self.value)
        self.matches = completion.matches
        if completion.value != self.value:
            self.value = completion.value
            self.cursor_position = len(self.value)
        elif len(completion.matches) != 1:
            self.app.bell()
        self.post_message(self.Completed(self, completion))

    class Completed(Message):
        """Tab was pressed: ``completion`` holds what matched (the dialog lists it)."""

        def __init__(self, path_input: PathInput, completion: Completion) -> None:
            super().__init__()
            self.path_input = path_input
            self.completion = completion
