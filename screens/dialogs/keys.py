"""``?``: the keys of the current screen, one line each, then the keys that work everywhere.

Built from the screen's own bindings (shown in the footer or not), so it never goes stale: a
binding's description is its line. Keys of one action are listed together (``] tab``), and a run
of numbered keys is folded into one line (``1…9  Take source N``).
"""

from __future__ import annotations

import re
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from shelver.screens.dialogs.base import Dialog

NUMBER = re.compile(r"\d+")


def key_lines(bindings: list[Binding], display: dict[str, str]) -> list[tuple[str, str]]:
    """(keys, description) per action, numbered runs folded, in the bindings' order."""
    lines: dict[str, tuple[list[str], str]] = {}
    for binding in bindings:
        if not binding.description:
            continue
        folded = NUMBER.sub("N", binding.description)
        group = folded if folded != binding.description else binding.action
        keys, _ = lines.setdefault(group, ([], folded))
        key = display.get(binding.key, binding.key)
        if key not in keys:
            keys.append(key)
    result = []
    for keys, description in lines.values():
        shown = f"{keys[0]}…{keys[-1]}" if len(keys) > 3 else " ".join(keys)
        if shown == "!…(":  # shift+digit on a US keyboard, as a person says it
            shown = "shift+1…9"
        result.append((shown, description))
    return result


def bindings_of(node: object) -> list[Binding]:
    """Every binding a screen or app declares (expanded: one per key)."""
    found: list[Binding] = []
    for item in getattr(node, "BINDINGS", []):
        binding = item if isinstance(item, Binding) else Binding(*item)
        found.extend(Binding.make_bindings([binding]))
    return found


class KeysDialog(Dialog[None]):
    """The current screen's keys; ? or escape closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark,escape,q", "cancel", "Close", show=False)
    ]

    def __init__(self, screen: Screen, global_bindings: list[Binding]) -> None:
        super().__init__()
        self.for_screen = screen
        self.global_bindings = global_bindings

    def table(self, bindings: list[Binding]) -> Table:
        display = {b.key: self.app.get_key_display(b) for b in bindings}
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold", no_wrap=True, min_width=8)
        table.add_column()
        for keys, description in key_lines(bindings, display):
            table.add_row(keys, description)
        return table

    def compose(self) -> ComposeResult:
        title = getattr(self.for_screen, "TITLE", None) or "This screen"
        with Vertical(classes="dialog-frame"):
            yield Static(f"Keys: {title}", classes="dialog-title")
            with VerticalScroll(id="keys-list"):
                yield Static(self.table(bindings_of(self.for_screen)))
                yield Static(Text("\nEverywhere", "bold"))
                yield Static(self.table(self.global_bindings))
            yield Static(
                "ctrl+p lists every action too · ? or escape closes", classes="dialog-hint"
            )
