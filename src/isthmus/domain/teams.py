"""Teams and team membership.

Creating a team also creates its town-square and off-topic channels and makes the creator a
team admin; joining a team joins those two channels (Mattermost's default channels). Leaving a
team removes the user from every channel of that team. Teams are only soft-deleted.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.core.errors import AppError, forbidden, invalid
from isthmus.core.events import Event
from isthmus.core.ids import is_valid_id, new_id
from isthmus.domain.access import get_team_row, team_member_of, team_permissions
from isthmus.domain.channels import create_default_channels, join_default_channels
from isthmus.domain.context import Domain, Tx, transaction
from isthmus.domain.models import Actor, Team, TeamMember
from isthmus.domain.roles import has_system_permission
from isthmus.domain.shapes import dumps, team_json
from isthmus.store.repo import access as access_repo
from isthmus.store.repo import channels as channels_repo
from isthmus.store.repo import teams as repo
from isthmus.store.repo import users as users_repo

TEAM_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,63}$")
RESERVED_TEAM_NAMES = frozenset({
    "admin", "api", "channel", "claim", "error", "files", "help", "landing", "login", "mfa", "oauth",
    "plug", "plugins", "post", "signup", "boards", "playbooks", "static",
})
TEXT_LIMITS = {"display_name": 64, "description": 255, "company_name": 64, "allowed_domains": 1000}
PATCHABLE = ("display_name", "description", "company_name", "allowed_domains", "allow_open_invite")
ADMIN_ROLES, USER_ROLES = "team_user team_admin", "team_user"


def check_team_name(name: object) -> str:
    if not isinstance(name, str) or not TEAM_NAME_RE.fullmatch(name):
        raise invalid("model.team.is_valid.url.app_error",
                      "Name must be 2 to 64 lowercase letters, numbers or '-', starting with a letter.")
    if name in RESERVED_TEAM_NAMES:
        raise invalid("model.team.is_valid.reserved.app_error", "This URL is unavailable. Please try another.")
    return name


def check_team_fields(fields: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, limit in TEXT_LIMITS.items():
        value = fields.get(key)
        if value is None and not (creating and key == "display_name"):
            continue
        if not isinstance(value, str) or len(value) > limit or (key == "display_name" and not value.strip()):
            ident = "name" if key == "display_name" else key
            raise invalid(f"model.team.is_valid.{ident}.app_error", f"Invalid {key} for the team.")
        out[key] = value
    if fields.get("allow_open_invite") is not None:
        if not isinstance(fields["allow_open_invite"], bool):
            raise invalid("api.context.invalid_body_param.app_error", "Invalid allow_open_invite.")
        out["allow_open_invite"] = fields["allow_open_invite"]
    return out


def _exists() -> AppError:
    return invalid("app.team.save.existing.app_error", "A team with that name already exists.")


def sanitize(d: Domain, team: Team, perms: frozenset[str]) -> Team:
    """Mattermost's SanitizeTeam: managers see everything, inviters keep the invite id, others neither."""
    if "manage_team" in perms:
        return team
    return dataclasses.replace(team, email="", invite_id=team.invite_id if "invite_user" in perms else "")


async def do_create_team(d: Domain, actor: Actor | None, fields: dict[str, Any]) -> Team:
    """Create a team; ``actor`` None is the CLI (no creator, so no initial member)."""
    if actor is not None and not has_system_permission(d, actor, "create_team"):
        raise forbidden("create_team")
    name = check_team_name(fields.get("name"))
    values = check_team_fields(fields, creating=True)
    type_ = fields.get("type") if fields.get("type") is not None else "O"
    if type_ not in ("O", "I"):
        raise invalid("model.team.is_valid.type.app_error", "Invalid team type.")
    now = d.now()
    row: dict[str, Any] = {
        "id": new_id(), "create_at": now, "update_at": now, "delete_at": 0, "display_name": values["display_name"],
        "name": name, "description": values.get("description", ""), "email": "", "type": type_,
        "company_name": values.get("company_name", ""), "allowed_domains": values.get("allowed_domains", ""),
        "invite_id": new_id(), "allow_open_invite": type_ == "O", "scheme_id": None,
    }
    try:
        async with transaction(d) as tx:
            if await repo.select_team_by_name(tx.conn, name) is not None:
                raise _exists()
            if actor is not None:
                creator = await users_repo.select_user(tx.conn, actor.user_id)
                row["email"] = creator["email"] if creator else ""
            await repo.insert_team(tx.conn, row)
            await create_default_channels(d, tx.conn, row["id"], actor.user_id if actor else "")
            if actor is not None:
                await _insert_member(d, tx.conn, row["id"], actor.user_id, ADMIN_ROLES)
                tx.emit(Event("added_to_team", {"team_id": row["id"], "user_id": actor.user_id},
                              user_id=actor.user_id))
    except IntegrityError:
        raise _exists() from None
    return Team(**row)


async def _insert_member(d: Domain, conn: AsyncConnection, team_id: str, user_id: str, roles: str) -> TeamMember:
    row: dict[str, Any] = {"team_id": team_id, "user_id": user_id, "roles": roles, "delete_at": 0, "scheme_user": True,
           "scheme_admin": "team_admin" in roles.split(), "scheme_guest": False, "create_at": d.now()}
    if await team_member_of(conn, team_id, user_id) is None and \
            await repo.update_team_member(conn, team_id, user_id, row) == 0:
        await repo.insert_team_member(conn, row)
    return TeamMember(**row)


async def _require(d: Domain, conn: AsyncConnection, actor: Actor, team_id: str, permission: str) -> Team:
    """The team if the caller holds ``permission`` in it; unlike access_team, open teams get no exception."""
    team = await get_team_row(conn, team_id)
    perms = await team_permissions(d, conn, actor, team_id)
    if permission not in perms:
        raise forbidden(permission)
    return sanitize(d, team, perms)


async def get_team(d: Domain, actor: Actor, team_id: str) -> Team:
    async with d.db.read() as conn:
        team = await get_team_row(conn, team_id)
        return await _visible(d, conn, actor, team)


async def _visible(d: Domain, conn: AsyncConnection, actor: Actor, team: Team) -> Team:
    perms = await team_permissions(d, conn, actor, team.id)
    if "view_team" in perms or (team.allow_open_invite and team.delete_at == 0) or "list_private_teams" in perms:
        return sanitize(d, team, perms)
    raise forbidden("view_team")


async def get_team_by_name(d: Domain, actor: Actor, name: str) -> Team:
    async with d.db.read() as conn:
        row = await repo.select_team_by_name(conn, name)
        if row is None:
            raise AppError("app.team.get_by_name.missing.app_error", "Unable to find the existing team.", 404)
        return await _visible(d, conn, actor, Team(**row))


async def team_exists(d: Domain, name: str) -> bool:
    async with d.db.read() as conn:
        return await repo.select_team_by_name(conn, name) is not None


async def list_teams(d: Domain, actor: Actor, *, page: int, per_page: int) -> tuple[list[Team], int]:
    include_all = has_system_permission(d, actor, "list_private_teams")
    async with d.db.read() as conn:
        rows = await repo.select_teams(conn, include_all=include_all, user_id=actor.user_id,
                                       offset=page * per_page, limit=per_page)
        total = await repo.count_teams(conn, include_all=include_all, user_id=actor.user_id)
        teams = [sanitize(d, Team(**r), await team_permissions(d, conn, actor, r["id"])) for r in rows]
    return teams, total


def _check_self_or(d: Domain, actor: Actor, user_id: str, permission: str) -> None:
    if actor.user_id != user_id and not has_system_permission(d, actor, permission):
        raise forbidden(permission)


async def list_teams_for_user(d: Domain, actor: Actor, user_id: str) -> list[Team]:
    _check_self_or(d, actor, user_id, "read_other_users_teams")
    async with d.db.read() as conn:
        rows = await repo.select_teams_for_user(conn, user_id)
        return [sanitize(d, Team(**r), await team_permissions(d, conn, actor, r["id"])) for r in rows]


async def list_team_members_for_user(d: Domain, actor: Actor, user_id: str) -> list[TeamMember]:
    _check_self_or(d, actor, user_id, "read_other_users_teams")
    async with d.db.read() as conn:
        return [TeamMember(**r) for r in await repo.select_team_members_for_user(conn, user_id)]


async def list_team_unreads(d: Domain, actor: Actor, user_id: str, exclude_team: str = "") -> list[dict[str, Any]]:
    """Unread messages and mentions per team, summed over the user's live channels in it."""
    _check_self_or(d, actor, user_id, "read_other_users_teams")
    async with d.db.read() as conn:
        teams = [r["team_id"] for r in await repo.select_team_members_for_user(conn, user_id)]
        counts = await repo.select_member_channel_counts(conn, user_id)
    out: dict[str, dict[str, Any]] = {
        t: {"team_id": t, "msg_count": 0, "mention_count": 0, "msg_count_root": 0, "mention_count_root": 0,
            "urgent_mention_count": 0, "thread_count": 0, "thread_mention_count": 0,
            "thread_urgent_mention_count": 0} for t in teams if t != exclude_team}
    for c in counts:
        entry = out.get(c["team_id"])
        if entry is None:
            continue
        entry["msg_count"] += max(0, c["total_msg_count"] - c["msg_count"])
        entry["msg_count_root"] += max(0, c["total_msg_count_root"] - c["msg_count_root"])
        entry["mention_count"] += c["mention_count"]
        entry["mention_count_root"] += c["mention_count_root"]
        entry["urgent_mention_count"] += c["urgent_mention_count"]
    return list(out.values())


async def list_team_members(d: Domain, actor: Actor, team_id: str, *, page: int,
                            per_page: int) -> list[TeamMember]:
    async with d.db.read() as conn:
        await _require(d, conn, actor, team_id, "view_team")
        rows = await repo.select_team_members(conn, team_id, offset=page * per_page, limit=per_page)
    return [TeamMember(**r) for r in rows]


async def get_team_member(d: Domain, actor: Actor, team_id: str, user_id: str) -> TeamMember:
    async with d.db.read() as conn:
        await _require(d, conn, actor, team_id, "view_team")
        if not is_valid_id(user_id):
            raise invalid("api.context.invalid_url_param.app_error", "Invalid or missing user_id in request URL.")
        row = await access_repo.select_team_member(conn, team_id, user_id)
    if row is None:
        raise AppError("app.team.get_member.missing.app_error", "No team member found for that user ID and team ID.",
                       404)
    return TeamMember(**row)


async def do_patch_team(d: Domain, actor: Actor, team_id: str, patch: dict[str, Any]) -> Team:
    values = check_team_fields({k: patch.get(k) for k in PATCHABLE}, creating=False)
    async with transaction(d) as tx:
        team = await _require(d, tx.conn, actor, team_id, "manage_team")
        if "allow_open_invite" in values:
            # An open team is one anybody may join; keep type and the flag saying the same thing.
            values["type"] = "O" if values["allow_open_invite"] else "I"
        values["update_at"] = d.now()
        await repo.update_team(tx.conn, team_id, values)
        updated = dataclasses.replace(team, **values)
        tx.emit(Event("update_team", {"team": dumps(team_json(sanitize(d, updated, frozenset())))},
                      team_id=team_id))
    return updated


async def do_delete_team(d: Domain, actor: Actor, team_id: str) -> Team:
    async with transaction(d) as tx:
        team = await _require(d, tx.conn, actor, team_id, "manage_team")
        now = d.now()
        await repo.update_team(tx.conn, team_id, {"delete_at": now, "update_at": now})
        deleted = dataclasses.replace(team, delete_at=now, update_at=now)
        tx.emit(Event("delete_team", {"team": dumps(team_json(sanitize(d, deleted, frozenset())))},
                      team_id=team_id))
    return deleted


async def _check_can_add(d: Domain, conn: AsyncConnection, actor: Actor | None, team: Team, user_id: str) -> None:
    if actor is None:
        return  # the command line, run by whoever operates the server
    perms = await team_permissions(d, conn, actor, team.id)
    if user_id == actor.user_id and "add_user_to_team" not in perms:
        needed = "join_public_teams" if team.allow_open_invite else "join_private_teams"
        if not has_system_permission(d, actor, needed):
            raise forbidden(needed)
    elif user_id != actor.user_id and "add_user_to_team" not in perms:
        raise forbidden("add_user_to_team")


async def add_member_in_tx(d: Domain, tx: Tx, actor: Actor | None, team_id: str, user_id: str,
                           origin: str | None = None, roles: str = USER_ROLES) -> TeamMember:
    """Add ``user_id`` to the team; ``actor`` None is the command line (no permission check)."""
    if not is_valid_id(user_id):
        raise invalid("api.context.invalid_body_param.app_error", "Invalid or missing user_id in request body.")
    team = await get_team_row(tx.conn, team_id)
    await _check_can_add(d, tx.conn, actor, team, user_id)
    if team.delete_at:
        raise invalid("app.team.join_user_to_team.deleted.app_error", "The team has been deleted.")
    if await users_repo.select_user(tx.conn, user_id) is None:
        raise AppError("app.user.missing_account.const", "Unable to find the user.", 404)
    existing = await team_member_of(tx.conn, team_id, user_id)
    if existing is not None:
        return existing  # already a member: idempotent, no event (as in Mattermost)
    if await repo.count_team_members(tx.conn, team_id) >= d.config.TeamSettings.MaxUsersPerTeam:
        raise invalid("app.team.join_user_to_team.max_accounts.app_error",
                      "This team has reached the maximum number of allowed accounts.")
    member = await _insert_member(d, tx.conn, team_id, user_id, roles)
    tx.emit(Event("added_to_team", {"team_id": team_id, "user_id": user_id}, user_id=user_id, origin=origin))
    await join_default_channels(d, tx, team_id, user_id, origin)
    return member


async def do_add_team_member(d: Domain, actor: Actor | None, team_id: str, user_id: str,
                             origin: str | None = None, roles: str = USER_ROLES) -> TeamMember:
    try:
        async with transaction(d) as tx:
            return await add_member_in_tx(d, tx, actor, team_id, user_id, origin, roles)
    except IntegrityError:
        # A concurrent join inserted the same row first; the retry finds it and answers idempotently.
        async with transaction(d) as tx:
            return await add_member_in_tx(d, tx, actor, team_id, user_id, origin, roles)


async def find_team(d: Domain, ref: str) -> Team:
    """A live team by URL name or id (the command line accepts either)."""
    async with d.db.read() as conn:
        row = await repo.select_team_by_name(conn, ref)
        if row is None and is_valid_id(ref):
            row = await access_repo.select_team(conn, ref)
    if row is None or row["delete_at"]:
        raise AppError("app.team.get_by_name.missing.app_error", f"There is no team named {ref}.", 404)
    return Team(**row)


def _invalid_invite() -> AppError:
    return AppError("app.team.invite_id.app_error",
                    "This invite link is not valid any more. Ask the team's admin for a new one.", 400)


async def get_team_by_invite(d: Domain, invite_id: str) -> Team:
    """The live team a sign-up/invite link (``invite_id``) leads to; anyone holding the link may see its name."""
    if not is_valid_id(invite_id):
        raise _invalid_invite()
    async with d.db.read() as conn:
        row = await repo.select_team_by_invite_id(conn, invite_id)
    if row is None or row["delete_at"]:
        raise _invalid_invite()
    return Team(**row)


async def do_join_by_invite(d: Domain, user_id: str, invite_id: str) -> TeamMember:
    """Join the team whose invite link this is (Mattermost's addUserToTeamFromInvite): the link is the permission."""
    team = await get_team_by_invite(d, invite_id)
    return await do_add_team_member(d, None, team.id, user_id)


async def do_add_team_members(d: Domain, actor: Actor, team_id: str, user_ids: list[str], *,
                              graceful: bool) -> list[tuple[str, TeamMember | None, AppError | None]]:
    """Add several users; all or nothing unless ``graceful`` (then one result per user)."""
    results: list[tuple[str, TeamMember | None, AppError | None]] = []
    if not graceful:
        async with transaction(d) as tx:
            for uid in user_ids:
                results.append((uid, await add_member_in_tx(d, tx, actor, team_id, uid), None))
        return results
    for uid in user_ids:
        try:
            results.append((uid, await do_add_team_member(d, actor, team_id, uid), None))
        except AppError as err:
            results.append((uid, None, err))
    return results


async def do_remove_team_member(d: Domain, actor: Actor, team_id: str, user_id: str,
                                origin: str | None = None) -> None:
    if not is_valid_id(user_id):
        raise invalid("api.context.invalid_url_param.app_error", "Invalid or missing user_id in request URL.")
    async with transaction(d) as tx:
        await get_team_row(tx.conn, team_id)
        if actor.user_id != user_id and \
                "remove_user_from_team" not in await team_permissions(d, tx.conn, actor, team_id):
            raise forbidden("remove_user_from_team")
        if await team_member_of(tx.conn, team_id, user_id) is None:
            raise invalid("api.team.remove_user_from_team.missing.app_error",
                          "The user does not appear to be part of this team.")
        now = d.now()
        await repo.update_team_member(tx.conn, team_id, user_id, {"delete_at": now})
        channel_ids = await channels_repo.select_user_channel_ids_in_team(tx.conn, user_id, team_id)
        await channels_repo.delete_channel_members_in(tx.conn, user_id, channel_ids)
        data = {"team_id": team_id, "user_id": user_id}
        tx.emit(Event("leave_team", data, team_id=team_id, origin=origin))
        # The user is no longer in the team when the event fans out, so tell their own sessions directly.
        tx.emit(Event("leave_team", dict(data), user_id=user_id, origin=origin))
