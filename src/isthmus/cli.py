"""Command line: ``isthmus serve | migrate | user | team | config``.

Commands that change data open the configured database directly (same config file and MM_*
environment as ``serve``), so they work with or without a running server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import signal
import string
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from isthmus.cli_connections import connection_app
from isthmus.config import ConfigError, ConfigStore, default_config_path
from isthmus.core.errors import AppError

if TYPE_CHECKING:  # imported inside the commands that run one: ``--help`` and ``config`` stay light
    from isthmus.server import Server

app = typer.Typer(help="Isthmus: a Mattermost-compatible chat server for connected workspaces.",
                  no_args_is_help=True, add_completion=False)
user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
team_app = typer.Typer(help="Manage teams.", no_args_is_help=True)
config_app = typer.Typer(help="Read and change config.json.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(team_app, name="team")
app.add_typer(config_app, name="config")
app.add_typer(connection_app, name="connection")

T = TypeVar("T")
ConfigOpt = typer.Option(None, "--config", "-c", help="Path to config.json (default ./data/config.json).")


def load_config(path: Path | None) -> ConfigStore:
    try:
        return ConfigStore(path or default_config_path())
    except ConfigError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None


def run_with_server(path: Path | None, work: Callable[[Server], Awaitable[T]]) -> T:
    from isthmus.server import Server

    async def main() -> T:
        server = Server(load_config(path))
        await server.bootstrap()  # no hub, ping loop or sync sender for one-shot commands
        try:
            return await work(server)
        finally:
            await server.db.dispose()

    try:
        return asyncio.run(main())
    except AppError as err:
        typer.echo(f"error: {err.message} ({err.id}) {err.detailed_error}".rstrip(), err=True)
        raise typer.Exit(1) from None


def parse_listen(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


# aiosqlite logs every statement with its parameters at DEBUG (session and connection tokens,
# password hashes), so these stay at WARNING or quieter whatever LogSettings.ConsoleLevel says.
QUIET_LOGGERS = ("aiosqlite", "sqlalchemy.engine")


def configure_logging(console_level: str) -> None:
    """serve's logging: LogSettings.ConsoleLevel ("WARN" is Python's WARNING) for all but QUIET_LOGGERS."""
    level = {"WARN": "WARNING"}.get(console_level, console_level)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet = max(logging.WARNING, logging.getLevelNamesMapping()[level])
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(quiet)


_held: list[Any] = []


@app.command()
def serve(config: Path | None = ConfigOpt) -> None:
    """Apply pending migrations and serve the API (SIGTERM shuts down cleanly)."""
    import uvicorn

    from isthmus.api.app import create_app
    from isthmus.api.edge import head_limited_protocol, raise_open_file_limit
    from isthmus.cluster.sqlite_guard import AlreadyServed, SqliteGuard
    from isthmus.server import Server

    store = load_config(config)
    cfg = store.config
    configure_logging(cfg.LogSettings.ConsoleLevel)
    open_files = raise_open_file_limit()
    if cfg.SqlSettings.DriverName == "sqlite":
        # Held until this process exits (the kernel drops it even on kill -9): one server per SQLite file.
        guard = SqliteGuard(cfg.SqlSettings.DataSource)
        try:
            guard.acquire()
        except AlreadyServed as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(1) from None
        _held.append(guard)  # referenced for the process's lifetime: a collected guard would close its lock
    host, port = parse_listen(cfg.ServiceSettings.ListenAddress)
    site_url = cfg.ServiceSettings.SiteURL or f"http://localhost:{port}"
    server = Server(store)
    application = create_app(server)

    class ReadyServer(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if not self.should_exit:
                logging.getLogger("isthmus").info("Isthmus ready: listening on %s:%d, SiteURL %s, open-file "
                                                  "limit %d", host, port, site_url, open_files)

    # uvicorn's own limits, as chosen: timeout_keep_alive stays at its 5 s (an idle keep-alive connection is
    # closed); a request head must arrive within RequestHeaderTimeoutSeconds and fit 64 KiB (api.edge: uvicorn
    # has neither with httptools, and h11_max_incomplete_event_size is the h11 parser's only); no
    # limit_concurrency, which answers 503 to everyone once reached: websockets are capped per address and in
    # all by the hub instead, so a flood cannot shut out other clients' REST calls. No permessage-deflate on
    # websockets: Mattermost's server offers none either, and its zlib state per socket is most of a socket's memory.
    uv = ReadyServer(uvicorn.Config(application, host=host, port=port, log_level="warning",
                                    proxy_headers=False, ws_max_size=1 << 20, lifespan="on", timeout_keep_alive=5,
                                    ws_per_message_deflate=False,
                                    http=head_limited_protocol(cfg.RateLimitSettings.RequestHeaderTimeoutSeconds)))
    # uvicorn re-raises the signal it stopped on once shutdown is done, which would make a clean
    # SIGTERM look like a crash (exit -15) to supervisors; after a graceful stop exit 0 instead.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uv.run()


@app.command()
def migrate(config: Path | None = ConfigOpt) -> None:
    """Apply pending database migrations and exit."""
    async def work(_server: Server) -> None:
        return None

    run_with_server(config, work)
    typer.echo("migrations applied")


def random_password(length: int = 20) -> str:
    alphabet = string.ascii_letters + string.digits
    # Guarantee each class so the password passes any reasonable policy.
    core = [secrets.choice(string.ascii_lowercase), secrets.choice(string.ascii_uppercase),
            secrets.choice(string.digits)]
    core += [secrets.choice(alphabet) for _ in range(length - len(core))]
    secrets.SystemRandom().shuffle(core)
    return "".join(core)


@user_app.command("create")
def user_create(username: str = typer.Option(..., "--username"), email: str = typer.Option(..., "--email"),
                password: str = typer.Option("", "--password", help="Omit with --random-password."),
                system_admin: bool = typer.Option(False, "--system-admin"),
                random_pw: bool = typer.Option(False, "--random-password",
                                               help="Generate a password and print it once."),
                if_empty: bool = typer.Option(False, "--if-empty",
                                              help="Do nothing unless the database has no users."),
                config: Path | None = ConfigOpt) -> None:
    """Create a user directly in the configured database."""
    from isthmus.domain.users import count_users, do_create_user

    if random_pw:
        password = random_password()
    elif not password:
        typer.echo("error: --password or --random-password is required", err=True)
        raise typer.Exit(2)

    async def work(server: Server) -> str:
        if if_empty and await count_users(server.domain) > 0:
            return ""
        user = await do_create_user(server.domain, {"username": username, "email": email,
                                                    "password": password}, system_admin=system_admin)
        return user.id

    user_id = run_with_server(config, work)
    if not user_id:
        return
    typer.echo(f"created user {username} (id {user_id}){' as system admin' if system_admin else ''}")
    if random_pw:
        typer.echo(f"  username: {username}\n  password: {password}")


@user_app.command("list")
def user_list(as_json: bool = typer.Option(False, "--json"), config: Path | None = ConfigOpt) -> None:
    """List users."""
    from isthmus.domain.users import list_users

    async def work(server: Server) -> list[Any]:
        return await list_users(server.domain, page=0, per_page=10_000, sort_by_username=True)

    found = run_with_server(config, work)
    if as_json:
        typer.echo(json.dumps([{"id": u.id, "username": u.username, "email": u.email, "roles": u.roles,
                                "delete_at": u.delete_at} for u in found], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "username", "email", "roles", "active")
    for u in found:
        table.add_row(u.id, u.username, u.email, u.roles, "no" if u.delete_at else "yes")
    Console().print(table)


async def _find_user_id(server: Server, ref: str) -> str:
    """A user by username, email or id (the command line accepts any)."""
    from isthmus.domain.users import get_user, get_user_by_login

    user = await get_user_by_login(server.domain, ref)
    if user is None:
        user = await get_user(server.domain, ref) if len(ref) == 26 else None
    if user is None:
        raise AppError("app.user.missing_account.const", f"There is no user named {ref}.", 404)
    return user.id


@team_app.command("create")
def team_create(name: str = typer.Option(..., "--name", help="URL name: lowercase letters, digits and '-'."),
                display_name: str = typer.Option(..., "--display-name"),
                team_type: str = typer.Option("O", "--type", help="O (open) or I (invite only)."),
                members: list[str] = typer.Option([], "--member",
                                                  help="Username (or email) to add as team admin; repeatable."),
                config: Path | None = ConfigOpt) -> None:
    """Create a team (with its town-square and off-topic channels) directly in the configured database."""
    from isthmus.domain.teams import ADMIN_ROLES, do_add_team_member, do_create_team

    async def work(server: Server) -> str:
        # Look everyone up first, so a misspelt name creates nothing.
        user_ids = [await _find_user_id(server, ref) for ref in members]
        team = await do_create_team(server.domain, None, {"name": name, "display_name": display_name,
                                                          "type": team_type})
        for uid in user_ids:
            await do_add_team_member(server.domain, None, team.id, uid, roles=ADMIN_ROLES)
        return team.id

    team_id = run_with_server(config, work)
    typer.echo(f"created team {name} (id {team_id})")
    for ref in members:
        typer.echo(f"  added {ref} as team admin")


@team_app.command("add-member")
def team_add_member(team: str = typer.Argument(..., help="The team's URL name (or id)."),
                    users: list[str] = typer.Argument(..., help="Usernames (or emails) to add."),
                    admin: bool = typer.Option(False, "--admin", help="Make them team admins."),
                    config: Path | None = ConfigOpt) -> None:
    """Add users to a team (and its town-square and off-topic channels)."""
    from isthmus.domain.teams import ADMIN_ROLES, USER_ROLES, do_add_team_member, find_team

    async def work(server: Server) -> str:
        found = await find_team(server.domain, team)
        user_ids = [await _find_user_id(server, ref) for ref in users]
        for uid in user_ids:
            await do_add_team_member(server.domain, None, found.id, uid, roles=ADMIN_ROLES if admin else USER_ROLES)
        return found.name

    team_name = run_with_server(config, work)
    for ref in users:
        typer.echo(f"added {ref} to team {team_name}")


@config_app.command("get")
def config_get(key: str = typer.Argument("", help="Section or Section.Key; empty prints everything."),
               config: Path | None = ConfigOpt) -> None:
    """Print the effective configuration (file + MM_* environment)."""
    doc: Any = load_config(config).config.model_dump()
    for part in [p for p in key.split(".") if p]:
        if not isinstance(doc, dict) or part not in doc:
            typer.echo(f"error: unknown setting {key!r}", err=True)
            raise typer.Exit(2)
        doc = doc[part]
    typer.echo(json.dumps(doc, indent=2) if isinstance(doc, dict) else json.dumps(doc))


@config_app.command("set")
def config_set(key: str = typer.Argument(..., help="Section.Key"), value: str = typer.Argument(...),
               config: Path | None = ConfigOpt) -> None:
    """Change one setting in config.json (validated; nothing is written if invalid)."""
    store = load_config(config)
    try:
        store.set_value(key, value)
    except ConfigError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{key} = {value}")


@app.command()
def verify(channel: str = typer.Option(..., "--channel", help="Id of a shared channel."),
           as_json: bool = typer.Option(False, "--json", help="Print the full report as JSON."),
           repair: bool = typer.Option(False, "--repair", help="Where a server differs, each side re-sends the "
                                       "posts it owns (the running servers deliver them)."),
           config: Path | None = ConfigOpt) -> None:
    """Compare a shared channel here with every connected server that shares it (exit 1 on any difference).

    Reads this server's database directly and asks each peer for its snapshot over the server-to-server
    API; nothing is changed anywhere unless --repair. No background work is started, so it is safe next to a
    running server (with --repair, the running server's sender picks up the queued posts on its next sweep).
    """
    from isthmus.federation.sync.verify import verify_channel
    from isthmus.server import Server

    async def main() -> dict[str, Any]:
        server = Server(load_config(config))
        try:
            return await verify_channel(server.domain, server.connections.client, None, channel, repair=repair)
        finally:
            await server.connections.client.aclose()
            await server.db.dispose()

    try:
        report = asyncio.run(main())
    except AppError as err:
        typer.echo(f"error: {err.message} ({err.id})", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        typer.echo(f"channel {report['channel_id']} ({'home' if report['home'] else 'shared with us'})")
        for item in report["remotes"]:
            typer.echo(f"  {item['name']} ({item['remote_id']}): {item['status']}"
                       + (f" - {item['error']}" if item.get("error") else ""))
            for line in item["differences"]:
                typer.echo(f"    {line}")
            if item.get("files_not_transferred"):
                typer.echo(f"    {item['files_not_transferred']} file(s) not transferred: refused by the receiving "
                           "workspace's limits (see the connection's refused items)")
            if "repair" in item:
                fix = item["repair"]
                typer.echo(f"    repair: {fix['resent_here']} post(s) re-sent from here, {fix['resent_there']} asked "
                           f"back from {item['name']}" + (f" - {fix['error']}" if fix.get("error") else ""))
    if any(item["status"] != "ok" for item in report["remotes"]):
        raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
