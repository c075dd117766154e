from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from rag_app.cli import app
from rag_app.ui.cli import APP_FILE, streamlit_command
from rag_app.ui.users import UsersFile


def test_users_add_list_remove(tmp_path: Path) -> None:
    users = tmp_path / "users.jsonl"
    r = CliRunner().invoke(app, ["users", "add", "aiko", "--groups", "hr,finance", "--admin", "--users", str(users),
                                 "--password-stdin"], input="correct horse\n")
    assert r.exit_code == 0, r.output
    assert "aiko (finance, hr, admin)" in r.output and "correct horse" not in users.read_text(encoding="utf-8")
    assert UsersFile(users).authenticate("aiko", "correct horse") is not None
    listed = CliRunner().invoke(app, ["users", "list", "--users", str(users)])
    assert "aiko" in listed.output and "finance, hr" in listed.output and "$argon2" not in listed.output
    again = CliRunner().invoke(app, ["users", "add", "aiko", "--users", str(users), "--password-stdin"],
                               input="another password\n")
    assert again.exit_code == 2 and "already exists" in again.output
    assert CliRunner().invoke(app, ["users", "remove", "aiko", "--users", str(users)]).exit_code == 0
    assert UsersFile(users).load().users == {}


def test_users_file_defaults_into_the_index(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["users", "add", "ken", "--index", str(tmp_path / "idx"), "--password-stdin"],
                           input="long enough\n")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "idx" / "users.jsonl").is_file()


def test_a_short_password_is_refused_with_the_rule(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["users", "add", "ken", "--users", str(tmp_path / "u.jsonl"), "--password-stdin"],
                           input="short\n")
    assert r.exit_code == 2 and "at least 8" in r.output


def test_ui_runs_the_page_headless_with_usage_stats_off() -> None:
    cmd = streamlit_command(8600, "127.0.0.1", 50)
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4] == str(APP_FILE) and APP_FILE.is_file()
    joined = " ".join(cmd)
    assert "--server.headless true" in joined and "--browser.gatherUsageStats false" in joined
    assert "--server.maxUploadSize 50" in joined and "--server.fileWatcherType none" in joined


def test_streamlit_run_from_the_checkout_is_headless_with_usage_stats_off() -> None:
    import tomllib

    config = tomllib.loads((APP_FILE.parent / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["headless"] is True and config["browser"]["gatherUsageStats"] is False
    assert config["server"]["maxUploadSize"] == 50  # the page's own default limit (rag_app.ui.config)
    assert config["server"]["fileWatcherType"] == "none"
