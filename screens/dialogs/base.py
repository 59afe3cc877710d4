"""The one base class of shelver's modal dialogs: a framed box centred over the dimmed screen
beneath, styled by ``dialogs.tcss``; escape closes it without an answer."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual.binding import Binding, BindingType
from textual.screen import ModalScreen

from shelver.screens.styles import stylesheet

ResultType = TypeVar("ResultType")


class Dialog(ModalScreen[ResultType]):
    """A modal dialog. Its content goes inside ``Vertical(classes="dialog-frame")``; ``-warning``
    or ``-error`` on the frame colour its border. Escape dismisses with None (a dialog that
    answers something else on escape binds escape itself)."""

    CSS_PATH = stylesheet(__file__, "dialogs.tcss")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)
