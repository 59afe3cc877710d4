"""``shelver import`` as a person runs it: a subprocess with its own home and database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import import_support as gen


def shelver(home: Path, dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHELVER_DATABASE_URL": dsn}
    env.pop("SHELVER_HOME", None)
    return subprocess.run(
        [sys.executable, "-m", "shelver", "--home", str(home), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    folder = tmp_path / "drop"
    (folder / "nested").mkdir(parents=True)
    gen.make_epub(folder / "one.epub", title="One")
    gen.make_fb2(folder / "nested" / "two.fb2", title="Two")
    return folder


def test_import_json(tmp_path: Path, database_dsn: str, drop: Path) -> None:
    result = shelver(tmp_path / "home", database_dsn, "import", "--json", str(drop))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert sorted(i["title"] for i in document["imported"]) == ["One", "Two"]
    assert document["refused"] == [] and document["skipped"] == []
    again = shelver(tmp_path / "home", database_dsn, "import", "--json", str(drop / "one.epub"))
    assert again.returncode == 0
    assert json.loads(again.stdout)["skipped"][0]["reason"].startswith("exact duplicate")


def test_refusals_exit_1_and_name_each_file(tmp_path: Path, database_dsn: str, drop: Path) -> None:
    (drop / "broken.epub").write_bytes(b"PK\x03\x04nope")
    (drop / "-dash.pdf").write_bytes(b"")
    result = shelver(tmp_path / "home", database_dsn, "import", str(drop), str(drop / "absent"))
    assert result.returncode == 1
    assert "broken.epub: broken ZIP" in result.stderr
    assert "-dash.pdf: empty file" in result.stderr
    assert "absent: no such file or folder" in result.stderr
    assert "imported 2, skipped 0 duplicate(s), refused 3" in result.stderr
    assert "Traceback" not in result.stderr
    assert (drop / "broken.epub").exists()


def test_move(tmp_path: Path, database_dsn: str, drop: Path) -> None:
    result = shelver(tmp_path / "home", database_dsn, "import", "--move", "--json", str(drop))
    assert result.returncode == 0, result.stderr
    assert not (drop / "one.epub").exists() and not (drop / "nested" / "two.fb2").exists()
    for item in json.loads(result.stdout)["imported"]:
        assert Path(item["inbox_path"]).is_relative_to(tmp_path / "home" / "inbox")


def test_leading_dash_name_after_double_dash(tmp_path: Path, database_dsn: str) -> None:
    path = tmp_path / "-r.epub"
    gen.make_epub(path, title="Dash")
    result = shelver(tmp_path / "home", database_dsn, "import", "--json", "--", str(path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["imported"][0]["title"] == "Dash"
