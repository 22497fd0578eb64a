"""Shared-channel payloads on the wire (``mattermost-protocol.md`` §1.7): SyncMsg, SyncResponse, the channel
invite, the upload session and the unshare notice. Keys and key order are Mattermost's.

Parsing is defensive: a peer's message is untrusted input, so every field is type-checked and
anything malformed becomes a per-item error or an :class:`AppError`, never an exception from deep inside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from isthmus.core.errors import AppError
from isthmus.core.ids import is_valid_id, new_id

TOPIC_SYNC = "sharedchannel_sync"
TOPIC_INVITE = "sharedchannel_invite"
TOPIC_UPLOAD = "sharedchannel_upload"
TOPIC_MEMBERSHIP = "sharedchannel_membership"
TOPIC_GLOBAL_USERS = "sharedchannel_global_user_sync"
TOPIC_UNSHARE = "sharedchannel_unshare"
# Our own topic (a Mattermost peer answers OK with a null payload): the normalized snapshot for `verify`.
TOPIC_SNAPSHOT = "isthmus_channel_snapshot"
# Ours too (`verify --repair`): "re-send your own copies of these posts of this channel".
TOPIC_RESEND = "isthmus_channel_resend"
# Our own topic, no payload: "I am (back) up". The receiver drops its backoff toward the sender (a Mattermost
# peer answers OK to an unknown topic and nothing happens).
TOPIC_HELLO = "isthmus_sync_hello"
# Our own topic: "these are my limits" (max file size, attachments on/off, max post size); the answer carries the
# peer's (``federation/sync/limits.py``). A Mattermost peer answers OK with a null payload.
TOPIC_LIMITS = "isthmus_limits"

NOT_SHARED_TEXT = "channel is no longer shared"
# Appended to that FAIL text by a home that deleted the channel (our extension; Mattermost matches a substring).
CHANNEL_DELETED_TEXT = "; channel was deleted"
NOT_ENABLED_TEXT = "Shared channels are not enabled"
DMS_DISABLED_TEXT = ("direct and group messages with other workspaces are turned off on this server; its admin can "
                     "turn them on with the feature flag EnableSharedChannelsDMs")
UNSHARE_MESSAGE = "This channel is no longer shared."
MAX_ITEMS_PER_MSG = 1000


def not_shared_error(channel_id: str, *, deleted: bool = False) -> AppError:
    # The sender looks for the substring "channel is no longer shared" in the FAIL text (§5.5).
    return AppError("api.shared_channel.not_shared", f"cannot process sync message; {NOT_SHARED_TEXT}: {channel_id}"
                    f"{CHANNEL_DELETED_TEXT if deleted else ''}", 400)


def bad_payload(detail: str) -> AppError:
    return AppError("api.remote_cluster.invalid_payload", f"Invalid sync payload: {detail}", 400)


@dataclass
class SyncMsg:
    id: str
    channel_id: str
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    posts: list[dict[str, Any]] = field(default_factory=list)
    reactions: list[dict[str, Any]] = field(default_factory=list)
    membership_changes: list[dict[str, Any]] = field(default_factory=list)
    mention_transforms: dict[str, str] = field(default_factory=dict)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    acknowledgements: list[dict[str, Any]] = field(default_factory=list)

    def to_obj(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "channel_id": self.channel_id}
        if self.users:
            out["users"] = self.users
        if self.posts:
            out["posts"] = self.posts
        if self.reactions:
            out["reactions"] = self.reactions
        if self.statuses:
            out["statuses"] = self.statuses
        if self.membership_changes:
            out["membership_changes"] = self.membership_changes
        if self.acknowledgements:
            out["acknowledgements"] = self.acknowledgements
        if self.mention_transforms:
            out["mention_transforms"] = self.mention_transforms
        return out

    @property
    def empty(self) -> bool:
        return not (self.users or self.posts or self.reactions or self.membership_changes or self.statuses
                    or self.acknowledgements)

    @staticmethod
    def new(channel_id: str) -> SyncMsg:
        return SyncMsg(id=new_id(), channel_id=channel_id)


def _objects(value: object, what: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_ITEMS_PER_MSG:
        raise bad_payload(f"{what} must be a list of at most {MAX_ITEMS_PER_MSG}")
    return [v for v in value if isinstance(v, dict)]


def parse_sync_msg(payload: object) -> SyncMsg:
    if not isinstance(payload, dict):
        raise bad_payload("expected an object")
    channel_id = payload.get("channel_id") or ""
    if not isinstance(channel_id, str) or (channel_id and not is_valid_id(channel_id)):
        raise bad_payload("channel_id")
    users_raw = payload.get("users")
    users_raw = {} if users_raw is None else users_raw
    if not isinstance(users_raw, dict) or len(users_raw) > MAX_ITEMS_PER_MSG:
        raise bad_payload("users")
    transforms_raw = payload.get("mention_transforms")
    transforms_raw = {} if transforms_raw is None else transforms_raw
    if not isinstance(transforms_raw, dict) or len(transforms_raw) > MAX_ITEMS_PER_MSG:
        raise bad_payload("mention_transforms")
    statuses_raw = payload.get("statuses")
    msg_id = payload.get("id")
    return SyncMsg(
        id=msg_id if isinstance(msg_id, str) else "", channel_id=channel_id,
        users={k: v for k, v in users_raw.items() if isinstance(k, str) and isinstance(v, dict)},
        posts=_objects(payload.get("posts"), "posts"), reactions=_objects(payload.get("reactions"), "reactions"),
        membership_changes=_objects(payload.get("membership_changes"), "membership_changes"),
        acknowledgements=_objects(payload.get("acknowledgements"), "acknowledgements"),
        mention_transforms={k: v for k, v in transforms_raw.items()
                            if isinstance(k, str) and 0 < len(k) <= 128 and is_valid_id(v)},
        # Statuses are refused item by item, never the whole message (a malformed list is no statuses at all).
        statuses=[v for v in statuses_raw[:MAX_ITEMS_PER_MSG] if isinstance(v, dict)]
        if isinstance(statuses_raw, list) else [])


@dataclass
class SyncResponse:
    users_last_update_at: int = 0
    user_errors: list[str] = field(default_factory=list)
    users_syncd: list[str] = field(default_factory=list)
    posts_last_update_at: int = 0
    post_errors: list[str] = field(default_factory=list)
    reactions_last_update_at: int = 0
    reaction_errors: list[str] = field(default_factory=list)
    membership_errors: list[str] = field(default_factory=list)
    status_errors: list[str] = field(default_factory=list)
    acknowledgements_last_update_at: int = 0
    acknowledgement_errors: list[str] = field(default_factory=list)  # post ids of refused acknowledgements
    # Our extension (Mattermost ignores it): why each item was refused, {kind: {id: words}}, so the sender can
    # record the reason with the refusal (issue 13).
    reasons: dict[str, dict[str, str]] = field(default_factory=dict)

    def refuse(self, kind: str, item_id: str, why: str) -> None:
        self.reasons.setdefault(kind, {})[item_id[:64]] = why[:300]

    def to_obj(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "users_last_update_at": self.users_last_update_at, "user_errors": self.user_errors,
            "users_syncd": self.users_syncd, "posts_last_update_at": self.posts_last_update_at,
            "post_errors": self.post_errors, "reactions_last_update_at": self.reactions_last_update_at,
            "reaction_errors": self.reaction_errors,
            "acknowledgements_last_update_at": self.acknowledgements_last_update_at,
            "acknowledgement_errors": self.acknowledgement_errors, "status_errors": self.status_errors or None}
        if self.membership_errors:
            out["membership_errors"] = self.membership_errors
        if self.reasons:
            out["isthmus_reasons"] = self.reasons
        return out

    @staticmethod
    def from_obj(obj: object) -> SyncResponse:
        if not isinstance(obj, dict):
            return SyncResponse()

        def ids(key: str) -> list[str]:
            value = obj.get(key)
            return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

        raw = obj.get("isthmus_reasons")
        reasons = {kind: {k[:64]: v[:300] for k, v in list(items.items())[:MAX_ITEMS_PER_MSG]
                          if isinstance(k, str) and isinstance(v, str)}
                   for kind, items in (raw.items() if isinstance(raw, dict) else ())
                   if isinstance(kind, str) and len(kind) <= 16 and isinstance(items, dict)}
        return SyncResponse(users_syncd=ids("users_syncd"), user_errors=ids("user_errors"),
                            post_errors=ids("post_errors"), reaction_errors=ids("reaction_errors"),
                            membership_errors=ids("membership_errors"), status_errors=ids("status_errors"),
                            acknowledgement_errors=ids("acknowledgement_errors"), reasons=reasons)


def channel_invite_obj(*, channel_id: str, read_only: bool, name: str, display_name: str, header: str, purpose: str,
                       type_: str, creator_id: str, participant_ids: list[str] | None = None,
                       participants: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """channelInviteMsg (``team_id`` is never filled by the sender). For a DM/GM (§8.1) every participant's id,
    and the profiles of those the receiver does not own (so it can create them)."""
    return {"channel_id": channel_id, "team_id": "", "read_only": read_only, "name": name,
            "display_name": display_name, "header": header, "purpose": purpose, "type": type_,
            "creator_id": creator_id, "direct_participant_ids": participant_ids or [],
            "direct_participants": participants or []}


@dataclass
class ChannelInvite:
    """channelInviteMsg as Go decodes it: ``direct_participant_ids`` a list of ids, ``direct_participants`` a
    list of User objects (null or absent: empty)."""
    payload: dict[str, Any]
    channel_id: str
    type: str
    creator_id: str
    direct_participant_ids: list[str]
    direct_participants: dict[str, dict[str, Any]]  # by user id

    @property
    def direct(self) -> bool:
        return self.type in ("D", "G")


def parse_channel_invite(payload: object) -> ChannelInvite:
    if not isinstance(payload, dict):
        raise bad_payload("invite")
    channel_id, type_, creator = payload.get("channel_id"), payload.get("type") or "O", payload.get("creator_id")
    if not is_valid_id(channel_id) or not isinstance(type_, str):
        raise AppError("api.command_share.invalid_invite.error", "Invalid channel id in the invitation.", 400)
    ids, users = payload.get("direct_participant_ids"), payload.get("direct_participants")
    if ids is not None and (not isinstance(ids, list) or len(ids) > 8 or not all(is_valid_id(i) for i in ids)):
        raise bad_payload("direct_participant_ids")
    if users is not None and (not isinstance(users, list) or len(users) > 8
                              or not all(isinstance(u, dict) and is_valid_id(u.get("id")) for u in users)):
        raise bad_payload("direct_participants")
    assert isinstance(channel_id, str)
    return ChannelInvite(payload=payload, channel_id=channel_id, type=type_,
                         creator_id=creator if isinstance(creator, str) and is_valid_id(creator) else "",
                         direct_participant_ids=list(dict.fromkeys(ids or [])),
                         direct_participants={u["id"]: u for u in users or []})


def upload_session_obj(*, session_id: str, create_at: int, user_id: str, channel_id: str, filename: str,
                       file_size: int, remote_id: str, req_file_id: str) -> dict[str, Any]:
    return {"id": session_id, "type": "attachment", "create_at": create_at, "user_id": user_id,
            "channel_id": channel_id, "filename": filename, "file_size": file_size, "file_offset": 0,
            "remote_id": remote_id, "req_file_id": req_file_id}


def unshare_obj(channel_id: str, remote_id: str, *, channel_deleted: bool = False) -> dict[str, Any]:
    """``sharedchannel_unshare`` payload; ``channel_deleted`` is our extension (ignored by Mattermost)."""
    out: dict[str, Any] = {"channel_id": channel_id, "remote_id": remote_id}
    if channel_deleted:
        out["channel_deleted"] = True
    return out
