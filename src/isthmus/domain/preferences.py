"""Preferences (Mattermost's ``model.Preference``): small per-user settings the apps keep on the server.

A preference is local to its server: a remote user's preferences live on their own server, and nothing here
is recorded for sync. Limits and error ids follow Mattermost (``model/preference.go``).
"""

from __future__ import annotations

import json
from typing import Any

from isthmus.core.errors import AppError, forbidden
from isthmus.core.events import Event
from isthmus.core.ids import is_valid_id
from isthmus.domain.context import Domain, transaction
from isthmus.domain.models import Actor
from isthmus.domain.roles import has_system_permission
from isthmus.store.repo import preferences as repo

MAX_CATEGORY = 32
MAX_NAME = 32
MAX_VALUE = 2000
MAX_PER_REQUEST = 100
FAVORITE_CHANNEL = "favorite_channel"


def _invalid(field: str, detail: str) -> AppError:
    return AppError("model.preference.is_valid.app_error", f"Invalid preference: {field} {detail}.", 400,
                    detailed_error=field)


def check_preferences(user_id: str, items: Any, *, with_value: bool = True) -> list[dict[str, Any]]:
    """Each item must be ``{user_id, category, name, value}`` for ``user_id`` (Mattermost refuses the whole list)."""
    if not isinstance(items, list) or not items or len(items) > MAX_PER_REQUEST:
        raise AppError("api.context.invalid_body_param.app_error",
                       f"Invalid or missing preferences in request body (1 to {MAX_PER_REQUEST} items).", 400)
    out: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            raise _invalid("body", "must be a list of objects")
        if item.get("user_id") != user_id:
            raise AppError("api.preference.update_preferences.set.app_error",
                           "Unable to set preferences for another user.", 403)
        category, name, value = item.get("category"), item.get("name", ""), item.get("value", "")
        if not isinstance(category, str) or not 0 < len(category) <= MAX_CATEGORY:
            raise _invalid("category", f"must be 1 to {MAX_CATEGORY} characters")
        if not isinstance(name, str) or len(name) > MAX_NAME:
            raise _invalid("name", f"must be at most {MAX_NAME} characters")
        if with_value and (not isinstance(value, str) or len(value) > MAX_VALUE):
            raise _invalid("value", f"must be a string of at most {MAX_VALUE} characters")
        if category == FAVORITE_CHANNEL and not is_valid_id(name):
            raise _invalid("name", "of a favorite must be a channel id")
        out.append({"user_id": user_id, "category": category, "name": name,
                    "value": value if isinstance(value, str) else ""})
    return out


def _check_actor(d: Domain, actor: Actor, user_id: str) -> None:
    if actor.user_id != user_id and not has_system_permission(d, actor, "edit_other_users"):
        raise forbidden("edit_other_users")


async def get_preferences(d: Domain, actor: Actor, user_id: str, category: str | None = None,
                          name: str | None = None) -> list[dict[str, Any]]:
    _check_actor(d, actor, user_id)
    async with d.db.read() as conn:
        rows = await repo.select_preferences(conn, user_id, category, name)
    if name is not None and not rows:
        raise AppError("app.preference.get.app_error", "Unable to find preference.", 404)
    return rows


async def do_save_preferences(d: Domain, actor: Actor, user_id: str, items: Any) -> None:
    _check_actor(d, actor, user_id)
    rows = check_preferences(user_id, items)
    async with transaction(d) as tx:
        await repo.upsert_preferences(tx.conn, rows)
        # Mattermost's event carries the list as a JSON string, the apps parse it.
        tx.emit(Event("preferences_changed", {"preferences": json.dumps(rows)}, user_id=user_id))


async def do_delete_preferences(d: Domain, actor: Actor, user_id: str, items: Any) -> None:
    _check_actor(d, actor, user_id)
    rows = check_preferences(user_id, items, with_value=False)
    async with transaction(d) as tx:
        await repo.delete_preferences(tx.conn, user_id, [(r["category"], r["name"]) for r in rows])
        tx.emit(Event("preferences_deleted", {"preferences": json.dumps(rows)}, user_id=user_id))
