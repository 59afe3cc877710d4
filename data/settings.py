"""Settings: one pydantic model, read from ``config.toml`` and overridden by the environment."""

from __future__ import annotations

import os
import string
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shelver.data.login_guard import (
    MAX_FAILURES_PER_ADDRESS,
    MAX_FAILURES_PER_USER,
    MAX_REGISTRATIONS,
    MAX_REGISTRATIONS_PER_ADDRESS,
    REFUSAL_DELAY_SECONDS,
    WINDOW_SECONDS,
    LoginGuard,
)

PLACEHOLDERS = {
    "author", "title", "original_name", "year", "language", "publisher", "isbn", "format",
}  # fmt: skip
"""What ``library_template`` may use (``data.organize.template_values`` fills them)."""


def template_problem(template: str) -> None:
    """Raise ``ValueError`` (one line naming the bad part and the known placeholders) for a
    ``library_template`` shelver cannot fill."""
    known = " ".join(f"{{{name}}}" for name in sorted(PLACEHOLDERS))
    if not template.strip() or template.startswith("/"):
        raise ValueError("library_template must be a relative path such as {author}/{title}")
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise ValueError(
            f"library_template is malformed ({exc}); known placeholders: {known}"
        ) from None
    unknown = [name for name in names if name not in PLACEHOLDERS]
    if unknown:
        bad = ", ".join(f"{{{name}}}" for name in unknown)
        raise ValueError(f"library_template has unknown placeholder {bad}; known: {known}")


class ConfigError(Exception):
    """The configuration file or an environment variable holds something unusable."""


class ProviderSettings(BaseModel):
    """Where and how to reach the metadata providers."""

    model_config = ConfigDict(extra="forbid")

    google_books_url: str = "https://www.googleapis.com/books/v1"
    """Base URL of the Google Books API (tests and proxies point it elsewhere)."""
    hardcover_url: str = "https://api.hardcover.app/v1/graphql"
    """GraphQL endpoint of Hardcover."""
    hardcover_requests_per_minute: int = Field(60, ge=1)
    """Hardcover's documented limit; never exceeded."""
    max_candidates_per_source: int = Field(5, ge=1, le=40)
    """How many answers of one source are kept per book."""
    timeout_seconds: float = Field(10.0, gt=0)
    """Time limit of one HTTP request."""


class ServerLimits(BaseModel):
    """The limits of ``shelver serve`` (``[server]`` in config.toml). The defaults suit a home
    network; a household behind one NAT address, or a device on a very slow link, may need
    more room."""

    model_config = ConfigDict(extra="forbid")

    failed_logins_per_address: int = Field(MAX_FAILURES_PER_ADDRESS, ge=1)
    """Failed logins from one address, within the window, before it is refused unchecked."""
    failed_logins_per_name: int = Field(MAX_FAILURES_PER_USER, ge=1)
    """Failed logins for one name (from addresses it never logged in from) before the lock."""
    failed_login_window_seconds: float = Field(WINDOW_SECONDS, gt=0)
    """How long failures count, and how long a lock lasts."""
    registrations_per_address_per_hour: int = Field(MAX_REGISTRATIONS_PER_ADDRESS, ge=0)
    registrations_per_hour: int = Field(MAX_REGISTRATIONS, ge=0)
    """KoSync registrations (only with ``--allow-registration``), per address and overall."""
    refused_login_delay_seconds: float = Field(REFUSAL_DELAY_SECONDS, ge=0, le=60)
    """A login refused unchecked (the address or name is locked) is answered after this pause,
    so a client that keeps guessing is slowed to a few tries a second."""
    connections_per_address: int = Field(32, ge=1)
    """Open connections one address may hold at once; more are answered 503."""
    max_connections: int = Field(1024, ge=8)
    """Open connections overall (kept below the process's open-file limit in any case)."""
    request_head_seconds: float = Field(10.0, gt=0)
    """Time for a request's line and headers to arrive; also how long an idle connection
    stays open between requests."""
    request_body_seconds: float = Field(10.0, gt=0)
    """Time for a small body (KoSync, a WebDAV listing request) to arrive."""
    upload_stall_seconds: float = Field(30.0, gt=0)
    """A WebDAV upload (up to 512 MB) that sends nothing for this long is cut off."""
    upload_min_bytes_per_second: int = Field(16 * 1024, ge=1)
    """...as is one slower than this on average once its first stall time has passed, so a
    large file over a slow link arrives but a drip-feed ends."""

    def login_guard(self) -> LoginGuard:
        """The server's one login rate limiter, with these limits."""
        return LoginGuard(
            window=self.failed_login_window_seconds,
            max_failures_per_address=self.failed_logins_per_address,
            max_failures_per_user=self.failed_logins_per_name,
            max_registrations_per_address=self.registrations_per_address_per_hour,
            max_registrations=self.registrations_per_hour,
            refusal_delay=self.refused_login_delay_seconds,
        )


class Settings(BaseModel):
    """Everything a user can configure. Environment variables win over the file."""

    model_config = ConfigDict(extra="forbid")

    database_url: str | None = None
    """A PostgreSQL DSN; when unset shelver runs its own cluster inside the home."""
    library_template: str = "{author}/{title}/{original_name}"
    """Where approved books are filed, relative to the library folder."""

    @field_validator("library_template")
    @classmethod
    def _fillable(cls, template: str) -> str:
        template_problem(template)  # at start-up, not at the first approval
        return template

    inbox_dir: Path | None = None
    """The watched inbox folder; defaults to ``inbox/`` in the home."""
    library_dir: Path | None = None
    """The organized library; defaults to ``library/`` in the home."""
    providers: ProviderSettings = ProviderSettings()
    """Metadata provider endpoints and limits."""
    server: ServerLimits = ServerLimits()
    """Limits of ``shelver serve``: failed logins, connections, time-outs."""


ENVIRONMENT_OVERRIDES = {
    "SHELVER_DATABASE_URL": "database_url",
    "SHELVER_LIBRARY_TEMPLATE": "library_template",
    "SHELVER_INBOX_DIR": "inbox_dir",
    "SHELVER_LIBRARY_DIR": "library_dir",
}


def load_settings(config_file: Path, environ: dict[str, str] | None = None) -> Settings:
    """Read ``config_file`` (if present), apply environment overrides, validate."""
    environ = dict(os.environ if environ is None else environ)
    raw: dict = {}
    if config_file.exists():
        try:
            raw = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{config_file}: not valid TOML ({exc})") from None
    for variable, field in ENVIRONMENT_OVERRIDES.items():
        if environ.get(variable):
            raw[field] = environ[variable]
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "config"
        message = str(first["msg"]).removeprefix("Value error, ")
        if message.startswith(f"{where} "):  # the message names the setting itself
            raise ConfigError(f"{config_file}: {message}") from None
        raise ConfigError(f"{config_file}: {where}: {message}") from None


# Settings the Settings screen may change, and how each is written to config.toml.
EDITABLE_SETTINGS = ("inbox_dir", "library_dir", "library_template")


def save_settings(
    config_file: Path, changes: dict[str, str | None], environ: dict[str, str] | None = None
) -> Settings:
    """Write ``changes`` (top-level keys; None removes one) into ``config_file``, keeping its
    comments and every other key; the result is validated before anything is written, and the
    file is replaced atomically. Returns the settings now in force (environment included)."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    unknown = set(changes) - set(EDITABLE_SETTINGS)
    if unknown:
        raise ConfigError(f"not a setting that can be changed here: {', '.join(sorted(unknown))}")
    try:
        text = config_file.read_text(encoding="utf-8") if config_file.exists() else ""
        document = tomlkit.parse(text)
    except (TOMLKitError, UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"{config_file}: cannot be read ({exc})") from None
    for key, value in changes.items():
        if value is None:
            document.pop(key, None)
        else:
            document[key] = value
    try:
        Settings.model_validate(document.unwrap())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "config"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(
            message if message.startswith(f"{where} ") else f"{where}: {message}"
        ) from None
    config_file.parent.mkdir(parents=True, exist_ok=True)
    partial = config_file.with_name(f".{config_file.name}.{os.getpid()}.part")
    partial.write_text(tomlkit.dumps(document), encoding="utf-8")
    os.replace(partial, config_file)
    return load_settings(config_file, environ)
