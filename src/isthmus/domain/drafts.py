"""Drafts (Mattermost's ``model.Draft``): the message a user is writing in a channel or thread, kept on the
server so their other devices show it. Local to this server, never synced to connected workspaces (a draft
in a shared channel stays with its author); ``ServiceSettings.AllowSyncedDrafts`` turns the API off.
"""

from __future__ import annotations

import json
from typing import Any

from isthmus.core.errors import AppError, forbidden
from isthmus.core.events import Event
from isthmus.core.ids import is_valid_id
from isthmus.domain.access import access_channel
from isthmus.domain.context import Domain, transaction
from isthmus.domain.models import Actor
from isthmus.domain.post_fields import bad_field, check_file_ids, check_message, check_props
from isthmus.domain.roles import has_system_permission
from isthmus.domain.sidebar import check_user_team
from isthmus.store.repo import drafts as repo

PRIORITIES = ("", "important", "urgent")


def _off(d: Domain) -> None:
    if not d.config.ServiceSettings.AllowSyncedDrafts:
        raise AppError("api.drafts.disabled.app_error",
                       "Drafts are kept on this device only: the administrator turned off synced drafts "
                       "(ServiceSettings.AllowSyncedDrafts).", 501)


def draft_json(row: dict[str, Any]) -> dict[str, Any]:
    out = {"create_at": row["create_at"], "update_at": row["update_at"], "delete_at": row["delete_at"],
           "user_id": row["user_id"], "channel_id": row["channel_id"], "root_id": row["root_id"],
           "message": row["message"], "type": row["type"], "props": row["props"] or {},
           "file_ids": row["file_ids"] or []}
    if row.get("priority"):
        out["priority"] = row["priority"]
    return out


def _priority(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("priority", "") not in PRIORITIES \
            or not all(isinstance(value.get(k, False), bool) for k in ("requested_ack", "persistent_notifications")):
        raise bad_field("priority")
    return {k: value[k] for k in ("priority", "requested_ack", "persistent_notifications") if k in value}


async def do_upsert_draft(d: Domain, actor: Actor, body: Any) -> dict[str, Any]:
    _off(d)
    if not isinstance(body, dict):
        raise AppError("api.context.invalid_body_param.app_error", "Invalid or missing draft in request body.", 400)
    user_id = body.get("user_id") or actor.user_id
    if user_id != actor.user_id:
        raise forbidden("edit_other_users")
    channel_id, root_id = body.get("channel_id"), body.get("root_id") or ""
    if not is_valid_id(channel_id) or (root_id and not is_valid_id(root_id)):
        raise bad_field("channel_id" if not is_valid_id(channel_id) else "root_id")
    message = check_message(body.get("message") or "")
    props = check_props(body.get("props") or {})
    file_ids = check_file_ids(body.get("file_ids") or [])
    post_type = body.get("type") or ""
    if not isinstance(post_type, str) or len(post_type) > 64:
        raise bad_field("type")
    priority = _priority((body.get("metadata") or {}).get("priority") if isinstance(body.get("metadata"), dict)
                         else body.get("priority"))
    now = d.now()
    async with transaction(d) as tx:
        await access_channel(d, tx.conn, actor, str(channel_id), "create_post")
        old = await repo.select_draft(tx.conn, user_id, str(channel_id), root_id)
        row = {"user_id": user_id, "channel_id": channel_id, "root_id": root_id,
               "create_at": old["create_at"] if old and not old["delete_at"] else now, "update_at": now,
               "delete_at": 0, "message": message, "type": post_type, "props": props, "file_ids": file_ids,
               "priority": priority}
        await repo.upsert_draft(tx.conn, row)
        kind = "draft_updated" if old and not old["delete_at"] else "draft_created"
        tx.emit(Event(kind, {"draft": json.dumps(draft_json(row))}, user_id=user_id))
    return draft_json(row)


async def list_drafts(d: Domain, actor: Actor, user_id: str, team_id: str) -> list[dict[str, Any]]:
    _off(d)
    async with d.db.read() as conn:
        await check_user_team(d, conn, actor, user_id, team_id)
        return [draft_json(r) for r in await repo.select_team_drafts(conn, user_id, team_id)]


async def do_delete_draft(d: Domain, actor: Actor, user_id: str, channel_id: str, root_id: str = "") -> None:
    _off(d)
    if actor.user_id != user_id and not has_system_permission(d, actor, "edit_other_users"):
        raise forbidden("edit_other_users")
    if not is_valid_id(channel_id) or (root_id and not is_valid_id(root_id)):
        raise AppError("api.context.invalid_url_param.app_error", "Invalid channel_id or root_id in the URL.", 400)
    async with transaction(d) as tx:
        row = await repo.select_draft(tx.conn, user_id, channel_id, root_id)
        if await repo.soft_delete_draft(tx.conn, user_id, channel_id, root_id, d.now()) and row is not None:
            tx.emit(Event("draft_deleted", {"draft": json.dumps(draft_json(row))}, user_id=user_id))
