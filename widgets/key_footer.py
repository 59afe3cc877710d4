"""The footer of key hints, rebuilt only when the keys it shows change."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer

Shown = tuple[tuple[str, str, str, bool, str], ...]


def shown_keys(screen: Screen) -> Shown:
    """What a footer on ``screen`` shows: each shown binding's key, words, action, whether it
    is enabled and its tooltip."""
    return tuple(
        (binding.key, binding.description, binding.action, enabled, tooltip)
        for _node, binding, enabled, tooltip in screen.active_bindings.values()
        if binding.show
    )


class KeyFooter(Footer):
    """Textual's Footer rebuilds all its keys whenever the screen's bindings may have changed,
    which is every change of focus; each rebuilt key then restyles itself. Moving between a
    table and its detail pane usually leaves the same keys, so this one rebuilds only when
    what it shows differs from what is on screen."""

    def __init__(self) -> None:
        # The mode bar shows the palette's key, which leaves the footer room for the rest.
        super().__init__(show_command_palette=False, compact=True)
        self._shown: Shown | None = None

    def bindings_changed(self, screen: Screen) -> None:
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            shown = shown_keys(screen)
            if shown == self._shown:
                return
            self._shown = shown
        super().bindings_changed(screen)
