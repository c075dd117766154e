"""``ragqa users ...`` (the page's users file) and ``ragqa ui`` (open the page)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

users_app = typer.Typer(help="People who sign in to the web page (`ragqa ui`): add, list, remove.",
                        no_args_is_help=True)

IndexOpt = Annotated[Path | None, typer.Option("--index", help="Index folder. Default: $RAGQA_INDEX or ./.ragqa",
                                               show_default=False)]
UsersOpt = Annotated[Path | None, typer.Option("--users", help="Users file. Default: $RAGQA_USERS or <index>/users.jsonl",
                                               show_default=False)]
APP_FILE = Path(__file__).resolve().parents[2] / "streamlit_app.py"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _users_file(index: Path | None, users: Path | None) -> Path:
    if users is not None:
        return users
    from ingest.settings import load_index_settings

    from .config import UIConfig

    return UIConfig.for_index(load_index_settings(None, index_dir=index).index_dir).users_file


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, _ . @ -).", show_default=False)],
    groups: Annotated[str, typer.Option(help="Comma-separated groups, e.g. hr,finance (empty: public only).")] = "",
    admin: Annotated[bool, typer.Option("--admin", help="May manage documents and read feedback and reports.")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Set a new password and groups for an existing user.")] = False,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")] = False,
    index: IndexOpt = None,
    users: UsersOpt = None,
) -> None:
    """Add a user; the password is asked for (hidden) and stored as an argon2 hash."""
    from .users import UsersFile

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    path = _users_file(index, users)
    try:
        user = UsersFile(path).add(name, password, groups.split(","), admin=admin, replace=replace)
    except (ValueError, ImportError) as e:
        raise _fail(str(e)) from None
    typer.echo(f"{user.name} ({', '.join(user.groups) or 'public only'}{', admin' if user.admin else ''}) -> {path}")


@users_app.command("list")
def users_list(index: IndexOpt = None, users: UsersOpt = None) -> None:
    """The users and their groups (never their password hashes), and any line that was skipped."""
    from .users import UsersFile

    path = _users_file(index, users)
    table = UsersFile(path).load()
    if not table.users and not table.problems:
        typer.echo(f"no users in {path}: the page runs as the public user")
    for u in table.users.values():
        typer.echo(f"{u.name:<24} {', '.join(u.groups) or '(public only)':<30} {'admin' if u.admin else ''}")
    for p in table.problems:
        typer.echo(f"skipped {path} {p}", err=True)


@users_app.command("remove")
def users_remove(name: Annotated[str, typer.Argument(show_default=False)], index: IndexOpt = None,
                 users: UsersOpt = None) -> None:
    """Remove a user."""
    from .users import UsersFile

    try:
        UsersFile(_users_file(index, users)).remove(name)
    except ValueError as e:
        raise _fail(str(e)) from None
    typer.echo(f"removed {name}")


def streamlit_command(port: int, address: str, max_upload_mb: int) -> list[str]:
    """The ``streamlit run`` command line: headless, usage statistics off, no file watcher (it
    would watch the checkout, virtual environment included: an inotify storm for nothing, the page
    is not edited while it serves)."""
    return [sys.executable, "-m", "streamlit", "run", str(APP_FILE), "--server.headless", "true",
            "--server.fileWatcherType", "none",
            "--browser.gatherUsageStats", "false", "--server.port", str(port), "--server.address", address,
            "--server.maxUploadSize", str(max_upload_mb), "--global.developmentMode", "false",
            "--client.toolbarMode", "viewer"]


def ui(
    index: IndexOpt = None,
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501,
    address: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    reports: Annotated[list[Path] | None, typer.Option("--reports", help="Evaluation report folder to list (repeatable).")] = None,
    max_upload_mb: Annotated[int, typer.Option(help="Largest upload accepted, MB.")] = 50,
) -> None:
    """Open the web page (Streamlit, headless, usage statistics off): ask, read the cited pages,
    manage documents and users' feedback."""
    import importlib.util

    if importlib.util.find_spec("streamlit") is None:
        raise _fail('the web page needs streamlit: pip install -e ".[ui]"')
    if not APP_FILE.is_file():
        raise _fail(f"{APP_FILE} not found: run `ragqa ui` from a checkout of ragqa (pip install -e .)")
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false", RAGQA_UI_MAX_UPLOAD_MB=str(max_upload_mb))
    if index is not None:
        env["RAGQA_INDEX"] = str(index.resolve())
    if reports:
        env["RAGQA_REPORTS"] = os.pathsep.join(str(p.resolve()) for p in reports)
    typer.echo(f"ragqa page on http://{address}:{port}  (Ctrl+C stops it)", err=True)
    raise typer.Exit(_serve(streamlit_command(port, address, max_upload_mb), env))


def _serve(cmd: list[str], env: dict[str, str]) -> int:
    """Run the server until it exits; Ctrl+C or SIGTERM to ``ragqa ui`` stops it too."""
    import signal

    proc = subprocess.Popen(cmd, env=env)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
