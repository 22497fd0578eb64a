"""``isthmus connection create|accept|list|status|remove|regenerate``: secure connections from the shell.

Unlike ``isthmus user``, these talk to a *running* server's REST API (the handshake needs the server's
own network identity), as a user with ``manage_secure_connections``: ``--token`` (a session or personal
access token) or ``--login``/``--password``. ``ISTHMUS_URL``, ``ISTHMUS_TOKEN``, ``ISTHMUS_LOGIN`` and
``ISTHMUS_PASSWORD`` provide defaults. The invitation password is ``--invite-password``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NoReturn

import httpx
import typer

connection_app = typer.Typer(help="Secure connections to other workspaces (talks to a running server).",
                             no_args_is_help=True)

UrlOpt = typer.Option("http://localhost:8065", "--url", envvar="ISTHMUS_URL", help="Base URL of the server.")
TokenOpt = typer.Option("", "--token", envvar="ISTHMUS_TOKEN", help="Session or personal access token.")
LoginOpt = typer.Option("", "--login", envvar="ISTHMUS_LOGIN", help="Username or email (instead of --token).")
PasswordOpt = typer.Option("", "--password", envvar="ISTHMUS_PASSWORD", help="Password for --login.")


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _check(r: httpx.Response, *expected: int) -> Any:
    if r.status_code not in expected:
        try:
            body = r.json()
            _fail(f"{body.get('message', '')} ({body.get('id', r.status_code)})")
        except ValueError:
            _fail(f"HTTP {r.status_code} from {r.request.url}")
    return r.json() if r.content else None


@contextmanager
def _client(url: str, token: str, login: str, password: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url.rstrip("/"), timeout=60) as client:
        try:
            if not token:
                if not login or not password:
                    _fail("give --token, or --login and --password (or ISTHMUS_TOKEN / ISTHMUS_LOGIN+ISTHMUS_PASSWORD)")
                r = client.post("/api/v4/users/login", json={"login_id": login, "password": password})
                _check(r, 200)
                token = r.headers.get("Token", "")
                client.cookies.clear()  # use the bearer token only (cookie auth would demand CSRF proof)
        except httpx.HTTPError as err:
            _fail(f"cannot reach {url}: {err}")
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def _call(client: httpx.Client, method: str, path: str, expected: tuple[int, ...] = (200,), **kw: Any) -> Any:
    try:
        return _check(client.request(method, path, **kw), *expected)
    except httpx.HTTPError as err:
        _fail(f"request to {client.base_url} failed: {err}")


def _team_id(client: httpx.Client, team: str) -> str:
    """A team id, a team name, or (empty) the caller's first team."""
    if len(team) == 26 and team.isalnum():
        return team
    if team:
        return str(_call(client, "GET", f"/api/v4/teams/name/{team}")["id"])
    teams = _call(client, "GET", "/api/v4/users/me/teams")
    if not teams:
        _fail("you are in no team; pass --team")
    return str(teams[0]["id"])


def _ts(ms: int) -> str:
    return "--" if not ms else datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@connection_app.command("create")
def create(name: str = typer.Option(..., "--name", help="Local name for the other workspace."),
           display_name: str = typer.Option("", "--display-name"),
           team: str = typer.Option("", "--team", help="Default team (id or name); default: your first team."),
           invite_password: str = typer.Option("", "--invite-password",
                                                help="Password for the invitation; generated when omitted."),
           url: str = UrlOpt, token: str = TokenOpt, login: str = LoginOpt, password: str = PasswordOpt) -> None:
    """Create a connection and print the invitation to send to the other admin."""
    with _client(url, token, login, password) as client:
        body: dict[str, Any] = {"name": name, "display_name": display_name, "default_team_id": _team_id(client, team)}
        if invite_password:
            body["password"] = invite_password
        out = _call(client, "POST", "/api/v4/remotecluster", (201,), json=body)
    rc = out["remote_cluster"]
    typer.echo(f"Created secure connection {rc['name']} (id {rc['remote_id']}); pending until accepted.")
    typer.echo("Send the other admin this invitation (and the password separately):\n")
    typer.echo(out["invite"])
    typer.echo(f"\npassword: {out['password']}" if out.get("password") else "\npassword: the one you chose")
    typer.echo("On their server they run:\n  isthmus connection accept --name <name for this workspace> "
               "--invite <invitation> --invite-password <password>")


@connection_app.command("accept")
def accept(name: str = typer.Option(..., "--name", help="Local name for the inviting workspace."),
           invite: str = typer.Option(..., "--invite", help="The invitation code."),
           invite_password: str = typer.Option(..., "--invite-password"),
           display_name: str = typer.Option("", "--display-name"),
           team: str = typer.Option("", "--team", help="Default team (id or name); default: your first team."),
           url: str = UrlOpt, token: str = TokenOpt, login: str = LoginOpt, password: str = PasswordOpt) -> None:
    """Accept an invitation: decrypt it, confirm with the inviting server, connect."""
    with _client(url, token, login, password) as client:
        rc = _call(client, "POST", "/api/v4/remotecluster/accept_invite", (201,), json={
            "name": name, "display_name": display_name, "default_team_id": _team_id(client, team),
            "invite": invite, "password": invite_password})
    typer.echo(f"Connected: {rc['name']} (id {rc['remote_id']}) at {rc['site_url']}")


def _rows(client: httpx.Client, include_deleted: bool) -> list[dict[str, Any]]:
    params = {"include_deleted": "true" if include_deleted else "false", "per_page": 200}
    rows: list[dict[str, Any]] = _call(client, "GET", "/api/v4/remotecluster", params=params)
    online = {r["remote_id"] for r in _call(client, "GET", "/api/v4/remotecluster",
                                            params={"exclude_offline": "true", "per_page": 200})}
    for row in rows:  # the server decides what "online" means (its offline threshold)
        row["online"] = row["remote_id"] in online and not row["delete_at"]
        row["accepted"] = bool(row["site_url"]) and not row["site_url"].startswith("pending_")
    return rows


@connection_app.command("list")
def list_(as_json: bool = typer.Option(False, "--json"), include_deleted: bool = typer.Option(False, "--all"),
          url: str = UrlOpt, token: str = TokenOpt, login: str = LoginOpt, password: str = PasswordOpt) -> None:
    """List connections (``--all`` includes removed ones)."""
    with _client(url, token, login, password) as client:
        rows = _rows(client, include_deleted)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        typer.echo(f"{r['remote_id']}  {r['name']}  {r['site_url']}")


@connection_app.command("status")
def status(as_json: bool = typer.Option(False, "--json"),
           url: str = UrlOpt, token: str = TokenOpt, login: str = LoginOpt, password: str = PasswordOpt) -> None:
    """Status of every connection, removed ones included (like ``/secure-connection status``)."""
    with _client(url, token, login, password) as client:
        rows = _rows(client, True)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("No secure connections found.")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("connection id", "name", "display name", "site url", "default team", "accepted", "online",
                  "last ping", "deleted")
    for r in rows:
        table.add_row(r["remote_id"], r["name"], r["display_name"], r["site_url"], r["default_team_id"],
                      "yes" if r["accepted"] else "no", "yes" if r["online"] else "no", _ts(r["last_ping_at"]),
                      "yes" if r["delete_at"] else "no")
    Console(width=200).print(table)


@connection_app.command("remove")
def remove(remote_id: str = typer.Argument(..., help="Connection id."),
           url: str = UrlOpt, token: str = TokenOpt, login: str = LoginOpt, password: str = PasswordOpt) -> None:
    """Remove a connection (the other side goes offline)."""
    with _client(url, token, login, password) as client:
        _call(client, "DELETE", f"/api/v4/remotecluster/{remote_id}")
    typer.echo(f"Secure connection {remote_id} removed.")


@connection_app.command("regenerate")
def regenerate(remote_id: str = typer.Argument(..., help="Connection id (must still be pending)."),
               invite_password: str = typer.Option(..., "--invite-password"),
               url: str = UrlOpt, token: str = TokenOpt, login: str = LoginOpt, password: str = PasswordOpt) -> None:
    """Print a new invitation for a pending connection (earlier codes and passwords keep working)."""
    with _client(url, token, login, password) as client:
        code = _call(client, "POST", f"/api/v4/remotecluster/{remote_id}/generate_invite", (201,),
                     json={"password": invite_password})
    typer.echo(code)


@connection_app.command("sync-users")
def sync_users(remote_id: str = typer.Argument(..., help="Connection id."),
               wait: bool = typer.Option(True, "--wait/--no-wait", help="Follow the run with a progress bar."),
               timeout: float = typer.Option(600.0, "--timeout", help="Give up following after this many seconds."),
               url: str = UrlOpt, token: str = TokenOpt, login: str = LoginOpt, password: str = PasswordOpt) -> None:
    """Send every local user to the connected workspace now (global user sync), showing users sent / total, the
    rate and the time left. The run is the server's: stopping this command does not stop it."""
    from isthmus.cli_progress import follow_user_sync

    with _client(url, token, login, password) as client:
        started = _call(client, "POST", f"/api/v4/remotecluster/{remote_id}/sync_users")
        if not wait:
            typer.echo(f"Global user sync started: {started['pending']} users to send.")
            return
        done = follow_user_sync(lambda: _call(client, "GET", f"/api/v4/remotecluster/{remote_id}/sync_users"),
                                started, timeout)
    if not done:
        _fail("the workspace has not taken every user yet (is it online?); the server keeps trying on its own, "
              "run this command again to follow it")
    typer.echo("All users sent.")
