"""Sidebar categories (Mattermost's ``SidebarCategoryWithChannels``): how a user groups a team's channels.

Every (user, team) has three default categories, Favorites, Channels and Direct Messages, plus the custom
ones the user creates. Until the user changes something the defaults are computed, not stored; the first
change stores them. A channel the user has not placed falls into the default category of its kind, so
channels that come and go (joins, leaves, new DMs) need no bookkeeping here. Favorites follow the
``favorite_channel`` preferences, as in Mattermost, so both ways of favoriting agree. All of this is local to
this server: a shared channel sits in each user's sidebar on their own server.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.core.errors import AppError, forbidden
from isthmus.core.events import Event
from isthmus.core.ids import is_valid_id, new_id
from isthmus.domain.access import team_member_of
from isthmus.domain.context import Domain, Tx, transaction
from isthmus.domain.models import Actor
from isthmus.domain.preferences import FAVORITE_CHANNEL
from isthmus.domain.roles import has_system_permission
from isthmus.store.repo import channels as channels_repo
from isthmus.store.repo import preferences as prefs_repo
from isthmus.store.repo import sidebar as repo

FAVORITES, CHANNELS, DIRECT, CUSTOM = "favorites", "channels", "direct_messages", "custom"
DEFAULTS = ((FAVORITES, "Favorites"), (CHANNELS, "Channels"), (DIRECT, "Direct Messages"))
SORTINGS = ("", "alpha", "recent", "manual")
MAX_NAME = 64


def _bad(field: str, detail: str) -> AppError:
    return AppError("model.category.is_valid.app_error", f"Invalid sidebar category: {field} {detail}.", 400,
                    detailed_error=field)


def _not_found() -> AppError:
    return AppError("app.channel.sidebar_categories.app_error", "Unable to find the sidebar category.", 404)


def _defaults(user_id: str, team_id: str) -> list[dict[str, Any]]:
    return [{"id": f"{kind}_{user_id}_{team_id}", "user_id": user_id, "team_id": team_id, "type": kind,
             "display_name": name, "sorting": "", "muted": False, "collapsed": False, "sort_order": i * 10}
            for i, (kind, name) in enumerate(DEFAULTS)]


async def check_user_team(d: Domain, conn: AsyncConnection, actor: Actor, user_id: str, team_id: str) -> None:
    """The caller may act on this user (self, or edit_other_users), who is a member of the team."""
    if actor.user_id != user_id and not has_system_permission(d, actor, "edit_other_users"):
        raise forbidden("edit_other_users")
    if not is_valid_id(team_id) or await team_member_of(conn, team_id, user_id) is None:
        raise forbidden("view_team")


async def _sidebar(conn: AsyncConnection, user_id: str, team_id: str) -> list[dict[str, Any]]:
    """The categories in order, each with ``channel_ids``."""
    stored = await repo.select_categories(conn, user_id, team_id)
    cats = stored or _defaults(user_id, team_id)
    placements = await repo.select_placements(conn, [c["id"] for c in stored])
    channels = await channels_repo.select_channels_for_user(conn, user_id, team_id)
    favorites = {p["name"] for p in await prefs_repo.select_preferences(conn, user_id, FAVORITE_CHANNEL)
                 if p["value"] == "true"}
    by_id = {c["id"]: {**c, "channel_ids": []} for c in cats}
    default_of = {c["type"]: c["id"] for c in cats if c["type"] != CUSTOM}
    placed: dict[str, str] = {}
    for p in placements:
        placed.setdefault(p["channel_id"], p["category_id"])
    target: dict[str, str] = {}
    for ch in channels:
        kind = DIRECT if ch["type"] in ("D", "G") else CHANNELS
        home = by_id.get(placed.get(ch["id"], ""))
        if ch["id"] in favorites:
            target[ch["id"]] = default_of[FAVORITES]
        elif home is not None and home["type"] in (CUSTOM, kind):
            target[ch["id"]] = home["id"]
        else:
            target[ch["id"]] = default_of[kind]
    # The user's own order first (placements come sorted), then the rest by name.
    listed: set[str] = set()
    for p in placements:
        cid = p["channel_id"]
        if target.get(cid) == p["category_id"] and cid not in listed:
            by_id[p["category_id"]]["channel_ids"].append(cid)
            listed.add(cid)
    for ch in channels:
        if ch["id"] not in listed:
            by_id[target[ch["id"]]]["channel_ids"].append(ch["id"])
    return list(by_id.values())


def category_json(c: dict[str, Any]) -> dict[str, Any]:
    return {"id": c["id"], "user_id": c["user_id"], "team_id": c["team_id"], "sort_order": c["sort_order"],
            "sorting": c["sorting"], "type": c["type"], "display_name": c["display_name"], "muted": c["muted"],
            "collapsed": c["collapsed"], "channel_ids": list(c["channel_ids"])}


async def get_categories(d: Domain, actor: Actor, user_id: str, team_id: str) -> dict[str, Any]:
    async with d.db.read() as conn:
        await check_user_team(d, conn, actor, user_id, team_id)
        cats = await _sidebar(conn, user_id, team_id)
    return {"categories": [category_json(c) for c in cats], "order": [c["id"] for c in cats]}


async def get_category(d: Domain, actor: Actor, user_id: str, team_id: str, category_id: str) -> dict[str, Any]:
    cats: list[dict[str, Any]] = (await get_categories(d, actor, user_id, team_id))["categories"]
    for c in cats:
        if c["id"] == category_id:
            return c
    raise _not_found()


async def _stored(tx: Tx, user_id: str, team_id: str) -> list[dict[str, Any]]:
    stored = await repo.select_categories(tx.conn, user_id, team_id)
    if not stored:
        stored = _defaults(user_id, team_id)
        await repo.insert_categories(tx.conn, stored)
    return stored


def _channel_ids(body: dict[str, Any], allowed: set[str]) -> list[str] | None:
    ids = body.get("channel_ids")
    if ids is None:
        return None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(set(ids)) != len(ids):
        raise _bad("channel_ids", "must be a list of distinct channel ids")
    unknown = [i for i in ids if i not in allowed]
    if unknown:
        raise _bad("channel_ids", f"names channels that are not in this sidebar ({len(unknown)})")
    return ids


def _fields(body: dict[str, Any], cat: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    name = body.get("display_name", cat["display_name"])
    if name != cat["display_name"]:
        if cat["type"] != CUSTOM:
            raise _bad("display_name", "of a default category cannot change")
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            raise _bad("display_name", f"must be 1 to {MAX_NAME} characters")
        values["display_name"] = name.strip()
    for key in ("sorting", "muted", "collapsed"):
        if key in body and body[key] != cat[key]:
            ok = body[key] in SORTINGS if key == "sorting" else isinstance(body[key], bool)
            if not ok:
                raise _bad(key, "has an unknown value")
            values[key] = body[key]
    if values.get("muted") and cat["type"] == DIRECT:
        raise _bad("muted", "cannot be set on Direct Messages")
    return values


async def _set_favorite(tx: Tx, user_id: str, channel_ids: list[str], on: bool) -> None:
    if not channel_ids:
        return
    if on:
        await prefs_repo.upsert_preferences(tx.conn, [
            {"user_id": user_id, "category": FAVORITE_CHANNEL, "name": c, "value": "true"} for c in channel_ids])
    else:
        await prefs_repo.delete_preferences(tx.conn, user_id, [(FAVORITE_CHANNEL, c) for c in channel_ids])


async def _apply(tx: Tx, user_id: str, team_id: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise _bad("body", "must be a category object with an id")
    stored = await _stored(tx, user_id, team_id)
    current = {c["id"]: c for c in await _sidebar(tx.conn, user_id, team_id)}
    cat = current.get(body["id"])
    if cat is None:
        raise _not_found()
    values = _fields(body, cat)
    if values:
        await repo.update_category(tx.conn, cat["id"], values)
    member = {cid for c in current.values() for cid in c["channel_ids"]}
    ids = _channel_ids(body, member)
    if ids is not None:
        direct = {cid for cid in current[f"{DIRECT}_{user_id}_{team_id}"]["channel_ids"]}
        if cat["type"] == CHANNELS and any(i in direct for i in ids):
            raise _bad("channel_ids", "may not put a direct message in Channels")
        if cat["type"] == DIRECT and any(i not in direct for i in ids if i not in current[cat["id"]]["channel_ids"]):
            raise _bad("channel_ids", "may only put direct messages in Direct Messages")
        before = set(cat["channel_ids"])
        await repo.replace_placements(tx.conn, user_id, [c["id"] for c in stored], ids, cat["id"])
        if cat["type"] == FAVORITES:
            await _set_favorite(tx, user_id, [i for i in ids if i not in before], True)
            await _set_favorite(tx, user_id, [i for i in before if i not in ids], False)
        else:
            was_favorite = current[f"{FAVORITES}_{user_id}_{team_id}"]["channel_ids"]
            await _set_favorite(tx, user_id, [i for i in ids if i in was_favorite], False)
    return category_json({**cat, **values, "channel_ids": ids if ids is not None else cat["channel_ids"]})


async def do_update_categories(d: Domain, actor: Actor, user_id: str, team_id: str, body: Any) -> list[dict[str, Any]]:
    items = body if isinstance(body, list) else None
    if not items or len(items) > 100:
        raise _bad("body", "must be a list of 1 to 100 categories")
    async with transaction(d) as tx:
        await check_user_team(d, tx.conn, actor, user_id, team_id)
        out = [await _apply(tx, user_id, team_id, item) for item in items]
        fresh = {c["id"]: c for c in await _sidebar(tx.conn, user_id, team_id)}
        out = [category_json(fresh[c["id"]]) for c in out]
        tx.emit(Event("sidebar_category_updated", {"updatedCategories": json.dumps(out)},
                      user_id=user_id, team_id=team_id))
    return out


async def do_create_category(d: Domain, actor: Actor, user_id: str, team_id: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _bad("body", "must be a category object")
    name = body.get("display_name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise _bad("display_name", f"must be 1 to {MAX_NAME} characters")
    async with transaction(d) as tx:
        await check_user_team(d, tx.conn, actor, user_id, team_id)
        stored = await _stored(tx, user_id, team_id)
        row = {"id": new_id(), "user_id": user_id, "team_id": team_id, "type": CUSTOM,
               "display_name": name.strip(), "sorting": "", "muted": bool(body.get("muted") is True),
               "collapsed": False, "sort_order": 0}
        await repo.insert_categories(tx.conn, [row])
        # New categories go right below Favorites, as in Mattermost.
        order = [c["id"] for c in stored]
        order.insert(1, row["id"])
        await _renumber(tx, order)
        if body.get("channel_ids"):
            await _apply(tx, user_id, team_id, {"id": row["id"], "channel_ids": body["channel_ids"]})
        created = next(c for c in await _sidebar(tx.conn, user_id, team_id) if c["id"] == row["id"])
        tx.emit(Event("sidebar_category_created", {"category_id": row["id"]}, user_id=user_id, team_id=team_id))
    return category_json(created)


async def _renumber(tx: Tx, order: list[str]) -> None:
    for i, cid in enumerate(order):
        await repo.update_category(tx.conn, cid, {"sort_order": i * 10})


async def do_delete_category(d: Domain, actor: Actor, user_id: str, team_id: str, category_id: str) -> None:
    async with transaction(d) as tx:
        await check_user_team(d, tx.conn, actor, user_id, team_id)
        cat = next((c for c in await _stored(tx, user_id, team_id) if c["id"] == category_id), None)
        if cat is None:
            raise _not_found()
        if cat["type"] != CUSTOM:
            raise AppError("app.channel.sidebar_categories.app_error",
                           "Only custom categories can be deleted; default ones always exist.", 400)
        await repo.delete_category(tx.conn, category_id)
        tx.emit(Event("sidebar_category_deleted", {"category_id": category_id}, user_id=user_id, team_id=team_id))


async def get_order(d: Domain, actor: Actor, user_id: str, team_id: str) -> list[str]:
    order: list[str] = (await get_categories(d, actor, user_id, team_id))["order"]
    return order


async def do_update_order(d: Domain, actor: Actor, user_id: str, team_id: str, body: Any) -> list[str]:
    async with transaction(d) as tx:
        await check_user_team(d, tx.conn, actor, user_id, team_id)
        stored = [c["id"] for c in await _stored(tx, user_id, team_id)]
        if not isinstance(body, list) or sorted(map(str, body)) != sorted(stored) or len(body) != len(stored):
            raise _bad("order", "must list every category of this sidebar exactly once")
        await _renumber(tx, body)
        tx.emit(Event("sidebar_category_order_updated", {"order": body}, user_id=user_id, team_id=team_id))
    return list(body)
