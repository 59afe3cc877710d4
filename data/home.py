"""Where shelver keeps things: one home directory roots config, inbox, library and cluster."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "shelver"


@dataclass(frozen=True)
class Home:
    """The folders of one shelver home.

    With an explicit home (``--home`` or ``SHELVER_HOME``) everything lives beneath it; without
    one, config goes to the per-user config dir and everything else to the per-user data dir.
    """

    config_dir: Path
    data_dir: Path

    @classmethod
    def at(cls, root: Path) -> Home:
        root = root.expanduser().absolute()
        return cls(config_dir=root, data_dir=root)

    @classmethod
    def resolve(cls, explicit: str | os.PathLike[str] | None = None) -> Home:
        chosen = explicit or os.environ.get("SHELVER_HOME")
        if chosen:
            return cls.at(Path(chosen))
        return cls(
            config_dir=Path(platformdirs.user_config_dir(APP_NAME)),
            data_dir=Path(platformdirs.user_data_dir(APP_NAME)),
        )

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def inbox_dir(self) -> Path:
        return self.data_dir / "inbox"

    @property
    def library_dir(self) -> Path:
        return self.data_dir / "library"

    @property
    def rejected_dir(self) -> Path:
        return self.data_dir / "rejected"

    @property
    def covers_dir(self) -> Path:
        return self.data_dir / "covers"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def cluster_dir(self) -> Path:
        """Parent of the embedded cluster's data directory (see `data.cluster`)."""
        return self.data_dir / "pg"

    def ensure(self) -> Home:
        """Create the home's folders (private to the user) if they are missing."""
        for folder in (
            self.config_dir,
            self.data_dir,
            self.inbox_dir,
            self.library_dir,
            self.rejected_dir,
            self.covers_dir,
            self.logs_dir,
        ):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self
