"""The command-line contract: exit codes, one-line errors, --json, and a DSN others accept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg

from shelver.data.cluster import find_server_binaries


def run_shelver(
    *args: str, env: dict | None = None, cwd: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shelver", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        input=stdin,
        timeout=120,
    )


def test_unknown_command_is_a_usage_error_on_one_line():
    result = run_shelver("frobnicate")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("shelver: ")


def test_a_broken_config_file_is_a_configuration_error(tmp_path: Path):
    (tmp_path / "config.toml").write_text("library_template = [unclosed")
    result = run_shelver("--home", str(tmp_path), "db", "status")
    assert result.returncode == 2
    assert "config.toml" in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_an_unknown_setting_is_named(tmp_path: Path):
    (tmp_path / "config.toml").write_text('colour_scheme = "pink"\n')
    result = run_shelver("--home", str(tmp_path), "db", "status")
    assert result.returncode == 2
    assert "colour_scheme" in result.stderr


def test_an_unreachable_database_is_one_readable_line(tmp_path: Path):
    url = f"postgresql://nobody@/shelver?host={tmp_path / 'no-such-socket-dir'}"
    result = run_shelver("--home", str(tmp_path), "--database-url", url, "db", "status")
    assert result.returncode == 1
    assert "cannot reach the database server" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_debug_shows_the_traceback(tmp_path: Path):
    url = f"postgresql://nobody@/shelver?host={tmp_path / 'no-such-socket-dir'}"
    result = run_shelver("--debug", "--home", str(tmp_path), "--database-url", url, "db", "status")
    assert result.returncode == 1
    assert "Traceback" in result.stderr


def test_db_status_and_migrate_json_against_a_given_server(database_dsn, tmp_path: Path):
    status = run_shelver(
        "--home",
        str(tmp_path),
        "db",
        "status",
        "--json",
        env={"SHELVER_DATABASE_URL": database_dsn},
    )
    assert status.returncode == 0, status.stderr
    document = json.loads(status.stdout)
    assert document["migrations"][0]["name"] == "init"
    assert all(m["applied_at"] for m in document["migrations"])
    migrate = run_shelver(
        "--home",
        str(tmp_path),
        "db",
        "migrate",
        "--json",
        env={"SHELVER_DATABASE_URL": database_dsn},
    )
    assert json.loads(migrate.stdout) == {"applied": []}


def test_start_and_stop_refuse_an_external_database(database_dsn, tmp_path: Path):
    result = run_shelver("--home", str(tmp_path), "--database-url", database_dsn, "db", "stop")
    assert result.returncode == 2
    assert "--database-url" in result.stderr


async def test_db_url_is_accepted_by_psql_and_asyncpg(tmp_path: Path):
    home = tmp_path / "home"
    try:
        started = run_shelver("--home", str(home), "db", "start")
        assert started.returncode == 0, started.stderr
        url = run_shelver("--home", str(home), "db", "url").stdout.strip()
        assert url.startswith("postgresql://")
        psql = subprocess.run(
            [str(find_server_binaries() / "psql"), url, "-At", "-c", "SELECT current_database()"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert psql.stdout.strip() == "shelver", psql.stderr
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT 1") == 1
        finally:
            await conn.close()
    finally:
        stopped = run_shelver("--home", str(home), "db", "stop", "--json")
    assert json.loads(stopped.stdout) == {"stopped": True}
    again = run_shelver("--home", str(home), "db", "stop", "--json")
    assert json.loads(again.stdout) == {"stopped": False}


def test_global_options_work_after_the_command_too(database_dsn, tmp_path: Path):
    result = run_shelver("db", "url", "--home", str(tmp_path), "--database-url", database_dsn)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == database_dsn


def test_the_installed_command_works_from_another_directory(tmp_path: Path, database_dsn):
    """SQL files are read as package resources, not relative to the working directory."""
    env = {"SHELVER_DATABASE_URL": database_dsn, "PYTHONPATH": ""}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from shelver.app.cli import main; "
            "sys.exit(main(['--home', sys.argv[1], 'db', 'status']))",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, **env},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "0001_init" in result.stdout
