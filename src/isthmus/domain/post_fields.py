"""The fields of a post as a client or a peer may send them: limits, the types and props a client may set,
and what the server derives from the message (hashtags, mention candidates).

Pure functions, no database: the local write paths (``domain/posts.py``) and the synced ones
(``domain/synced/posts.py``, ``domain/synced/bulk.py``) share one definition of what a valid post is.
"""

from __future__ import annotations

import re
from typing import Any

from isthmus.core.errors import AppError, invalid, invalid_param
from isthmus.core.ids import is_valid_id
from isthmus.domain.post_priority import check_priority
from isthmus.domain.shapes import dumps

MESSAGE_MAX_RUNES = 16383
MAX_FILE_IDS = 10
PROPS_MAX_CHARS = 800_000
PENDING_POST_ID_MAX = 64
TYPE_MAX = 64
MAX_MENTION_CANDIDATES = 100
# Non-custom types a client may post (Mattermost's Post.IsValid list minus system_*): "me" is /me's.
CLIENT_POST_TYPES = frozenset({"me"})
# Props only the server may set; a client sending them could pose as a bot or webhook.
SERVER_PROPS = frozenset({"from_bot", "from_webhook", "from_oauth_app", "from_plugin", "add_channel_member",
                          "deleteBy"})
_HASHTAG_RE = re.compile(r"^#[^\W\d_][\w.\-]*[^\W_]$")
_MENTION_RE = re.compile(r"(?<![\w.@-])@([a-z0-9][a-z0-9._\-]*)")


def bad_field(key: str) -> AppError:
    return invalid(f"model.post.is_valid.{key}.app_error", f"Invalid {key} for the post.")


def check_message(value: object) -> str:
    if not isinstance(value, str):
        raise bad_field("msg")
    if len(value) > MESSAGE_MAX_RUNES:
        raise invalid("model.post.is_valid.message_length.app_error",
                      f"Message must be {MESSAGE_MAX_RUNES} characters or fewer.")
    return value


def check_file_ids(value: object) -> list[str]:
    if not isinstance(value, list) or not all(is_valid_id(v) for v in value):
        raise bad_field("file_ids")
    unique = list(dict.fromkeys(value))
    if len(unique) > MAX_FILE_IDS:
        raise invalid("model.post.is_valid.file_ids.app_error", f"A post can have at most {MAX_FILE_IDS} files.")
    return unique


def check_props(value: object, old: dict[str, Any] | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_field("props")
    if len(dumps(value)) > PROPS_MAX_CHARS:
        raise invalid("model.post.is_valid.props.app_error", "Post props are too large.")
    kept = {k: v for k, v in (old or {}).items() if k in SERVER_PROPS}
    return {**{k: v for k, v in value.items() if k not in SERVER_PROPS}, **kept}


def check_new_post(body: dict[str, Any]) -> dict[str, Any]:
    """Validated fields of a new post; unknown keys are ignored as in Mattermost."""
    channel_id = body.get("channel_id")
    if not is_valid_id(channel_id):
        raise invalid_param("channel_id")
    root_id = body.get("root_id") or ""
    if root_id and not is_valid_id(root_id):
        raise bad_field("root_id")
    post_type = body.get("type") or ""
    if not isinstance(post_type, str) or len(post_type) > TYPE_MAX or \
            (post_type and post_type not in CLIENT_POST_TYPES and not post_type.startswith("custom_")):
        raise bad_field("type")
    pending = body.get("pending_post_id") or ""
    if not isinstance(pending, str) or len(pending) > PENDING_POST_ID_MAX:
        raise bad_field("pending_post_id")
    return {"channel_id": channel_id, "root_id": root_id, "type": post_type, "pending_post_id": pending,
            "message": check_message("" if body.get("message") is None else body["message"]),
            "file_ids": check_file_ids(body["file_ids"]) if body.get("file_ids") is not None else [],
            "props": check_props(body["props"]) if body.get("props") is not None else {},
            "priority": check_priority(body.get("metadata"), root_id)}


def check_post_patch(body: dict[str, Any]) -> dict[str, Any]:
    """Validated editable fields present in ``body`` (message, is_pinned, props, file_ids)."""
    out: dict[str, Any] = {}
    if body.get("message") is not None:
        out["message"] = check_message(body["message"])
    if body.get("is_pinned") is not None:
        if not isinstance(body["is_pinned"], bool):
            raise bad_field("is_pinned")
        out["is_pinned"] = body["is_pinned"]
    if body.get("file_ids") is not None:
        out["file_ids"] = check_file_ids(body["file_ids"])
    if body.get("props") is not None:
        if not isinstance(body["props"], dict):
            raise bad_field("props")
        out["props"] = body["props"]
    return out


def parse_hashtags(message: str) -> str:
    tags: list[str] = []
    for word in message.split():
        word = word.strip(",;:!?()[]{}\"'`*~")
        if _HASHTAG_RE.match(word) and word not in tags:
            tags.append(word)
    joined = " ".join(tags)
    return joined if len(joined) <= 1000 else joined[:1000].rsplit(" ", 1)[0]


def mentioned_usernames(message: str) -> list[str]:
    """Candidate usernames in order of appearance; "@ann." may mean "ann." or "ann", so try both."""
    names: list[str] = []
    for match in _MENTION_RE.finditer(message.lower()):
        raw = match.group(1)
        for name in (raw, raw.rstrip("._-")):
            if name and name not in names:
                names.append(name)
        if len(names) >= MAX_MENTION_CANDIDATES:
            break
    return names
