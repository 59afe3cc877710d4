"""The Settings screen's forms: a device login, a provider token, an API key (and the one
moment it is shown), the inbox and library folders, and the file-name template with a preview.

Every form is keyboard-only (tab between fields, enter or ctrl+s saves, escape cancels) and
answers a small value; the screen does the storing. Secrets are typed into masked inputs and
never shown again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Label, Select, Static

from shelver.data.credentials import (
    TOKEN_SERVICES,
    CredentialError,
    check_name,
    check_secret,
)
from shelver.screens.dialogs.base import Dialog
from shelver.screens.dialogs.library_filters import LibraryDialog

BOTH = "kosync,opds"
SERVICE_CHOICES = [
    ("KoSync and OPDS (one login for a KOReader device)", BOTH),
    ("KoSync only (reading progress)", "kosync"),
    ("OPDS only (the catalogue)", "opds"),
    ("shelver web (this app in a browser)", "web"),
]
TOKEN_CHOICES = [("Hardcover", "hardcover"), ("Google Books", "google_books")]


@dataclass(frozen=True)
class LoginForm:
    services: tuple[str, ...]
    name: str
    password: str


class SettingsForm(LibraryDialog):
    """A form whose errors show in ``#form-error`` (the Library's form look)."""

    def error(self, message: str) -> None:
        self.query_one("#form-error", Static).update(Text(message))


class LoginDialog(SettingsForm):
    """Add a login (service, name, password twice) or, given ``name``, set a new password."""

    def __init__(self, *, service: str | None = None, name: str | None = None) -> None:
        super().__init__()
        self.service = service
        self.name_ = name

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-frame"):
            if self.name_ is None:
                yield Static("Add a device login", classes="dialog-title")
                yield Label("For")
                yield Select(SERVICE_CHOICES, value=BOTH, allow_blank=False, id="login-service")
                yield Label("Name")
                yield Input(id="login-name", placeholder="e.g. kobo")
            else:
                yield Static(
                    f"New password for {self.service} login {self.name_!r}",
                    classes="dialog-title",
                    markup=False,
                )
            yield Label("Password")
            yield Input(id="login-password", password=True)
            yield Label("Password again")
            yield Input(id="login-again", password=True)
            yield Static("", id="form-error", classes="dialog-error")
            yield Static("enter saves · escape cancels", classes="dialog-hint")

    def action_save(self) -> None:
        password = self.query_one("#login-password", Input).value
        if password != self.query_one("#login-again", Input).value:
            self.error("The two passwords differ.")
            return
        try:
            check_secret(password)
            if self.name_ is None:
                name = check_name(self.query_one("#login-name", Input).value)
                services = tuple(str(self.query_one("#login-service", Select).value).split(","))
            else:
                name, services = self.name_, (self.service or "",)
        except CredentialError as exc:
            self.error(str(exc).replace("; nothing was stored", "") + ".")
            return
        self.dismiss(LoginForm(services, name, password))


class TokenDialog(SettingsForm):
    """A provider's token, typed once into a masked input."""

    def __init__(self, service: str | None = None) -> None:
        super().__init__()
        self.service = service if service in TOKEN_SERVICES else TOKEN_SERVICES[0]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-frame"):
            yield Static("Set a provider token", classes="dialog-title")
            yield Label("Provider")
            yield Select(TOKEN_CHOICES, value=self.service, allow_blank=False, id="token-service")
            yield Label("Token (stored sealed; never shown again)")
            yield Input(id="token-value", password=True)
            yield Static("", id="form-error", classes="dialog-error")
            yield Static("enter saves · escape cancels", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#token-value", Input).focus()

    def action_save(self) -> None:
        token = self.query_one("#token-value", Input).value.strip()
        try:
            check_secret(token, "token")
        except CredentialError as exc:
            self.error(str(exc).replace("; nothing was stored", "") + ".")
            return
        self.dismiss((str(self.query_one("#token-service", Select).value), token))


class ApiKeyDialog(SettingsForm):
    """The label of a new API key."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-frame"):
            yield Static("Create an API key", classes="dialog-title")
            yield Label("What it is for")
            yield Input(id="key-label", placeholder="e.g. tablet, backup script")
            yield Static("", id="form-error", classes="dialog-error")
            yield Static("enter creates · escape cancels", classes="dialog-hint")

    def action_save(self) -> None:
        label = " ".join(self.query_one("#key-label", Input).value.split())
        if not label:
            self.error("Give the key a label.")
            return
        self.dismiss(label)


class ShowKeyDialog(Dialog[None]):
    """The new key, shown this once (selectable, so it can be copied from the terminal)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "cancel", "Done")]

    def __init__(self, key: str, label: str) -> None:
        super().__init__()
        self.key = key
        self.label = label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-frame", id="show-key"):
            yield Static(f"API key for {self.label!r}", classes="dialog-title", markup=False)
            yield Static(self.key, id="show-key-value", markup=False)
            yield Static(
                "Copy it now: it is shown only this once. Use it as the password of any name "
                "in an OPDS reader, or as 'Authorization: Bearer KEY' in a script.",
                classes="dialog-hint",
            )
            yield Static("enter or escape closes", classes="dialog-hint")


class FoldersDialog(SettingsForm):
    """The inbox and library folders (absolute paths; ~ is expanded)."""

    def __init__(self, inbox: Path, library: Path) -> None:
        super().__init__()
        self.inbox = inbox
        self.library = library

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-frame"):
            yield Static("Folders", classes="dialog-title")
            yield Label("Inbox (watched for new books)")
            yield Input(str(self.inbox), id="folder-inbox")
            yield Label("Library (approved books are filed here)")
            yield Input(str(self.library), id="folder-library")
            yield Static("", id="form-error", classes="dialog-error")
            yield Static(
                "books already filed stay where they are · enter saves · escape cancels",
                classes="dialog-hint",
            )

    def action_save(self) -> None:
        chosen: list[Path] = []
        for field in ("inbox", "library"):
            text = self.query_one(f"#folder-{field}", Input).value.strip()
            path = Path(text).expanduser()
            if not text or not path.is_absolute() or "\x00" in text:
                self.error(f"The {field} folder must be an absolute path.")
                return
            if path.exists() and not path.is_dir():
                self.error(f"{path} is a file, not a folder.")
                return
            chosen.append(path)
        if chosen[0] == chosen[1]:
            self.error("The inbox and the library must be different folders.")
            return
        self.dismiss((chosen[0], chosen[1]))


PreviewFunction = Callable[[str], Sequence[str]]


class TemplateDialog(SettingsForm):
    """The file-name template, with where three books of the library would go, live."""

    def __init__(self, template: str, preview: PreviewFunction) -> None:
        super().__init__()
        self.template = template
        self.preview = preview

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-frame"):
            yield Static("Where approved books are filed", classes="dialog-title")
            yield Label("Template (relative to the library folder)")
            yield Input(self.template, id="template-value", select_on_focus=False)
            yield Static(
                "{author} {title} {original_name} {year} {language} {publisher} {isbn} {format}",
                classes="dialog-hint",
                markup=False,
            )
            yield Label("Where these books would go")
            yield Static("", id="template-preview", markup=False)
            yield Static("", id="form-error", classes="dialog-error")
            yield Static("enter saves · escape cancels", classes="dialog-hint")

    def on_mount(self) -> None:
        self._show(self.template)

    @on(Input.Changed, "#template-value")
    def _changed(self, event: Input.Changed) -> None:
        self._show(event.value)

    def _show(self, template: str) -> bool:
        try:
            lines = self.preview(template)
        except ValueError as exc:
            self.query_one("#template-preview", Static).update("")
            self.error(str(exc))
            return False
        self.error("")
        self.query_one("#template-preview", Static).update("\n".join(lines))
        return True

    def action_save(self) -> None:
        template = self.query_one("#template-value", Input).value.strip()
        if self._show(template):
            self.dismiss(template)
