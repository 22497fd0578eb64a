"""Domain records → Mattermost JSON shapes (``mattermost-rest.md`` §4), shared by REST, websocket events and sync.

One function per object so every route serialises the same way. Secrets never leave here:
``password`` is always blanked, and session tokens appear only in the login header.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from isthmus.domain.models import (
    Actor,
    Channel,
    ChannelMember,
    FileInfo,
    Post,
    PostAcknowledgement,
    Reaction,
    Role,
    Session,
    Team,
    TeamMember,
    User,
)


def user_json(user: User, viewer: Actor | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": user.id, "create_at": user.create_at, "update_at": user.update_at,
        "delete_at": user.delete_at, "username": user.username, "auth_data": "",
        "auth_service": user.auth_service, "email": user.email, "nickname": user.nickname,
        "first_name": user.first_name, "last_name": user.last_name, "position": user.position,
        "roles": user.roles, "props": user.props, "notify_props": user.notify_props,
        "last_password_update": user.last_password_update,
        "last_picture_update": user.last_picture_update, "locale": user.locale,
        "timezone": user.timezone, "mfa_active": False, "is_bot": user.is_bot,
        "bot_description": user.bot_description, "terms_of_service_id": "",
        "terms_of_service_create_at": 0, "email_verified": True,
    }
    if user.remote_id:
        out["remote_id"] = user.remote_id
    if viewer is not None and viewer.user_id != user.id and not viewer.is_system_admin:
        out["notify_props"] = {}
        out["last_password_update"] = 0
    return out


def session_json(s: Session) -> dict[str, Any]:
    return {"id": s.id, "token": "", "create_at": s.create_at, "expires_at": s.expires_at,
            "last_activity_at": s.last_activity_at, "user_id": s.user_id, "device_id": s.device_id,
            "roles": s.roles, "is_oauth": s.is_oauth, "props": {k: v for k, v in s.props.items()
                                                                  if k != "csrf"},
            "team_members": []}


def role_json(r: Role) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "display_name": r.display_name, "description": r.description,
            "create_at": r.create_at, "update_at": r.update_at, "delete_at": r.delete_at,
            "permissions": sorted(r.permission_set), "scheme_managed": r.scheme_managed,
            "built_in": r.built_in}


def team_json(t: Team) -> dict[str, Any]:
    return {"id": t.id, "create_at": t.create_at, "update_at": t.update_at, "delete_at": t.delete_at,
            "display_name": t.display_name, "name": t.name, "description": t.description,
            "email": t.email, "type": t.type, "company_name": t.company_name,
            "allowed_domains": t.allowed_domains, "invite_id": t.invite_id,
            "allow_open_invite": t.allow_open_invite, "scheme_id": t.scheme_id or "",
            "group_constrained": False, "policy_id": None, "last_team_icon_update": 0}


def team_member_json(m: TeamMember) -> dict[str, Any]:
    return {"team_id": m.team_id, "user_id": m.user_id, "roles": m.roles, "delete_at": m.delete_at,
            "scheme_user": m.scheme_user, "scheme_admin": m.scheme_admin,
            "scheme_guest": m.scheme_guest, "explicit_roles": "", "create_at": m.create_at}


def channel_json(c: Channel) -> dict[str, Any]:
    return {"id": c.id, "create_at": c.create_at, "update_at": c.update_at, "delete_at": c.delete_at,
            "team_id": c.team_id, "type": c.type, "display_name": c.display_name, "name": c.name,
            "header": c.header, "purpose": c.purpose, "last_post_at": c.last_post_at,
            "last_root_post_at": c.last_root_post_at, "total_msg_count": c.total_msg_count,
            "total_msg_count_root": c.total_msg_count_root, "extra_update_at": 0,
            "creator_id": c.creator_id, "scheme_id": c.scheme_id, "group_constrained": c.group_constrained,
            "shared": c.shared, "props": c.props or None, "policy_id": None}


def channel_member_json(m: ChannelMember) -> dict[str, Any]:
    return {"channel_id": m.channel_id, "user_id": m.user_id, "roles": m.roles,
            "last_viewed_at": m.last_viewed_at, "msg_count": m.msg_count,
            "msg_count_root": m.msg_count_root, "mention_count": m.mention_count,
            "mention_count_root": m.mention_count_root, "urgent_mention_count": m.urgent_mention_count,
            "notify_props": m.notify_props, "last_update_at": m.last_update_at,
            "scheme_user": m.scheme_user, "scheme_admin": m.scheme_admin, "scheme_guest": m.scheme_guest,
            "explicit_roles": ""}


def reaction_json(r: Reaction) -> dict[str, Any]:
    out: dict[str, Any] = {"user_id": r.user_id, "post_id": r.post_id, "emoji_name": r.emoji_name,
                           "create_at": r.create_at, "update_at": r.update_at, "delete_at": r.delete_at,
                           "channel_id": r.channel_id}
    if r.remote_id:
        out["remote_id"] = r.remote_id
    return out


def ack_json(a: PostAcknowledgement) -> dict[str, Any]:
    """Mattermost's PostAcknowledgement (``acknowledged_at`` 0: removed; ``remote_id`` omitted when local)."""
    out: dict[str, Any] = {"user_id": a.user_id, "post_id": a.post_id, "acknowledged_at": a.acknowledged_at,
                           "channel_id": a.channel_id}
    if a.remote_id:
        out["remote_id"] = a.remote_id
    return out


def priority_json(priority: dict[str, Any]) -> dict[str, Any]:
    """``metadata.priority`` in Mattermost's key order and types (string, bool, bool)."""
    return {"priority": str(priority.get("priority") or ""), "requested_ack": priority.get("requested_ack") is True,
            "persistent_notifications": priority.get("persistent_notifications") is True}


def post_json(p: Post, *, files: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """``files`` overrides ``p.files`` (the infos a read or write loaded) for ``metadata.files``."""
    metadata: dict[str, Any] = {}
    if p.reactions:
        metadata["reactions"] = [reaction_json(r) for r in p.reactions]
    if files is None:
        files = [file_info_json(f) for f in p.files]
    if files:
        metadata["files"] = files
    if p.priority:
        metadata["priority"] = priority_json(p.priority)
    if p.acknowledgements:
        metadata["acknowledgements"] = [ack_json(a) for a in p.acknowledgements]
    out: dict[str, Any] = {
        "id": p.id, "create_at": p.create_at, "update_at": p.update_at, "edit_at": p.edit_at,
        "delete_at": p.delete_at, "is_pinned": p.is_pinned, "user_id": p.user_id,
        "channel_id": p.channel_id, "root_id": p.root_id, "original_id": p.original_id,
        "message": p.message, "type": p.type, "props": p.props, "hashtags": p.hashtags,
        "file_ids": p.file_ids, "pending_post_id": p.pending_post_id, "reply_count": p.reply_count,
        "last_reply_at": p.last_reply_at, "participants": p.participants or None,
        "has_reactions": p.has_reactions, "metadata": metadata,
    }
    if p.remote_id:
        out["remote_id"] = p.remote_id
    return out


def post_list_json(posts: list[Post], order: list[str] | None = None, *, next_post_id: str = "",
                   prev_post_id: str = "", has_next: bool = False) -> dict[str, Any]:
    return {"order": order if order is not None else [p.id for p in posts],
            "posts": {p.id: post_json(p) for p in posts}, "next_post_id": next_post_id,
            "prev_post_id": prev_post_id, "has_next": has_next, "first_inaccessible_post_time": 0}


def file_info_json(f: FileInfo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f.id, "user_id": f.creator_id, "post_id": f.post_id, "channel_id": f.channel_id,
        "create_at": f.create_at, "update_at": f.update_at, "delete_at": f.delete_at, "name": f.name,
        "extension": f.extension, "size": f.size, "mime_type": f.mime_type, "width": f.width,
        "height": f.height, "has_preview_image": f.has_preview_image, "archived": False,
    }
    if f.mini_preview:
        out["mini_preview"] = base64.b64encode(f.mini_preview).decode("ascii")  # Go []byte → base64
    if f.remote_id:
        out["remote_id"] = f.remote_id
    return out


def string_map(value: object) -> dict[str, str]:
    """A Go ``map[string]string`` (User ``props`` / ``timezone`` / ``notify_props``): Mattermost's decoder refuses
    a whole message for one non-string value. Scalars become their JSON text (``true``, ``1.5``), anything else
    (null, lists, objects) is dropped."""
    if not isinstance(value, dict):
        return {}
    out: dict[str, str] = {}
    for k, v in value.items():
        if isinstance(v, str):
            out[str(k)] = v
        elif isinstance(v, bool | int | float):
            out[str(k)] = json.dumps(v)
    return out


def dumps(obj: Any) -> str:
    """Compact JSON for payloads that Mattermost nests as strings (websocket ``data.post``)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
