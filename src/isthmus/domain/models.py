"""Domain records. Field names match the store columns and Mattermost's JSON keys.

The api layer serialises these into Mattermost's shapes (``api/schemas.py``); federation uses
the same records, so there is exactly one notion of "a post" in the process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class User:
    id: str
    create_at: int
    update_at: int
    delete_at: int
    username: str
    email: str
    password: str
    auth_service: str
    nickname: str
    first_name: str
    last_name: str
    position: str
    roles: str
    locale: str
    props: dict[str, Any]
    notify_props: dict[str, Any]
    timezone: dict[str, Any]
    last_password_update: int
    last_picture_update: int
    is_bot: bool
    bot_description: str
    failed_attempts: int
    remote_id: str | None
    remote_update_at: int = 0  # synthetic users: the owner's update_at of the last profile applied

    @property
    def role_names(self) -> list[str]:
        return self.roles.split()

    @property
    def is_system_admin(self) -> bool:
        return "system_admin" in self.role_names


@dataclass(slots=True)
class Session:
    id: str
    token: str
    user_id: str
    create_at: int
    expires_at: int
    last_activity_at: int
    device_id: str
    roles: str
    is_oauth: bool
    props: dict[str, Any]


@dataclass(slots=True)
class Team:
    id: str
    create_at: int
    update_at: int
    delete_at: int
    display_name: str
    name: str
    description: str
    email: str
    type: str
    company_name: str
    allowed_domains: str
    invite_id: str
    allow_open_invite: bool
    scheme_id: str | None


@dataclass(slots=True)
class TeamMember:
    team_id: str
    user_id: str
    roles: str
    delete_at: int
    scheme_user: bool
    scheme_admin: bool
    scheme_guest: bool
    create_at: int


@dataclass(slots=True)
class Channel:
    id: str
    create_at: int
    update_at: int
    delete_at: int
    team_id: str
    type: str
    display_name: str
    name: str
    header: str
    purpose: str
    last_post_at: int
    last_root_post_at: int
    total_msg_count: int
    total_msg_count_root: int
    creator_id: str
    scheme_id: str | None
    group_constrained: bool
    shared: bool
    props: dict[str, Any]


@dataclass(slots=True)
class ChannelMember:
    channel_id: str
    user_id: str
    roles: str
    last_viewed_at: int
    msg_count: int
    msg_count_root: int
    mention_count: int
    mention_count_root: int
    urgent_mention_count: int
    notify_props: dict[str, Any]
    last_update_at: int
    scheme_user: bool
    scheme_admin: bool
    scheme_guest: bool


@dataclass(slots=True)
class Post:
    id: str
    create_at: int
    update_at: int
    edit_at: int
    delete_at: int
    is_pinned: bool
    user_id: str
    channel_id: str
    root_id: str
    original_id: str
    message: str
    type: str
    props: dict[str, Any]
    hashtags: str
    file_ids: list[str]
    pending_post_id: str
    has_reactions: bool
    reply_count: int
    last_reply_at: int
    participants: list[str]
    remote_id: str | None
    pin_at: int = 0  # when is_pinned was last set (last writer wins across servers)
    priority: dict[str, Any] | None = None  # metadata.priority; None: the post has none
    # Filled on read for the API (metadata.reactions / metadata.files / metadata.acknowledgements); not columns.
    reactions: list[Reaction] = field(default_factory=list)
    files: list[FileInfo] = field(default_factory=list)
    acknowledgements: list[PostAcknowledgement] = field(default_factory=list)


@dataclass(slots=True)
class Reaction:
    user_id: str
    post_id: str
    emoji_name: str
    create_at: int
    update_at: int
    delete_at: int
    remote_id: str | None
    channel_id: str


@dataclass(slots=True)
class PostAcknowledgement:
    post_id: str
    user_id: str
    acknowledged_at: int  # 0: removed
    channel_id: str
    remote_id: str | None


@dataclass(slots=True)
class Role:
    id: str
    name: str
    display_name: str
    description: str
    permissions: str
    scheme_managed: bool
    built_in: bool
    create_at: int
    update_at: int
    delete_at: int

    @property
    def permission_set(self) -> frozenset[str]:
        return frozenset(self.permissions.split())


@dataclass(slots=True, frozen=True)
class Actor:
    """Who is asking. ``session_id`` is empty for CLI/system actions."""

    user_id: str
    roles: str
    session_id: str = ""

    @property
    def role_names(self) -> list[str]:
        return self.roles.split()

    @property
    def is_system_admin(self) -> bool:
        return "system_admin" in self.role_names


@dataclass(slots=True)
class FileInfo:
    """An uploaded file (Mattermost's FileInfo). ``creator_id`` is sent as ``user_id``; the *_path
    fields are BlobStore keys and never leave the server."""

    id: str
    creator_id: str
    post_id: str
    channel_id: str
    create_at: int
    update_at: int
    delete_at: int
    name: str
    extension: str
    size: int
    mime_type: str
    width: int
    height: int
    has_preview_image: bool
    mini_preview: bytes | None
    path: str
    thumbnail_path: str
    preview_path: str
    content_hash: str
    remote_id: str | None
