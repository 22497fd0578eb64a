"""Message priority (``metadata.priority``) and the acknowledgements shown with a post (Mattermost's post
priority feature; wire shapes in ``mattermost-protocol.md`` §1.8).

The priority is stored on the post row (``posts.priority``, NULL: none); acknowledgements live in
``post_acknowledgements`` and are read for the posts that carry a priority only, so a timeline without
priority messages costs no extra query (a removed acknowledgement keeps its row with ``acknowledged_at`` 0
for sync and is never shown).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.core.errors import AppError, invalid
from isthmus.domain.models import Post, PostAcknowledgement
from isthmus.store.repo import acknowledgements as repo

PRIORITIES = ("", "important", "urgent")


def _bad_body() -> AppError:
    # What Mattermost's JSON decoder answers for a wrongly typed field of the post.
    return invalid("api.context.invalid_body_param.app_error", "Invalid or missing post in request body.",
                   "metadata.priority")


def check_priority(metadata: object, root_id: str) -> dict[str, Any] | None:
    """The priority of a new post from its REST body's ``metadata`` (None: none given)."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise _bad_body()
    value = metadata.get("priority")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad_body()
    level, ack, persistent = value.get("priority"), value.get("requested_ack"), value.get("persistent_notifications")
    if (level is not None and not isinstance(level, str)) or (ack is not None and not isinstance(ack, bool)) \
            or (persistent is not None and not isinstance(persistent, bool)):
        raise _bad_body()
    if (level or "") not in PRIORITIES:
        raise invalid("api.post.post_priority.invalid_priority.request_error",
                      "Message priority must be empty (standard), \"important\" or \"urgent\".")
    if root_id:
        raise invalid("api.post.post_priority.priority_post_only_allowed_for_root_post.request_error",
                      "Message priority can only be set on the first message of a thread, not on a reply.")
    if persistent and level != "urgent":
        raise invalid("api.post.post_priority.urgent_persistent_notification_post.request_error",
                      "Persistent notifications can only be sent with urgent messages: mark the message urgent.")
    return {"priority": level or "", "requested_ack": ack is True, "persistent_notifications": persistent is True}


def synced_priority(metadata: object) -> dict[str, Any] | None:
    """A peer's ``metadata.priority``, leniently (an unusable value is no priority, never a refused post)."""
    value = metadata.get("priority") if isinstance(metadata, dict) else None
    if not isinstance(value, dict) or value.get("priority", "") not in PRIORITIES:
        return None
    return {"priority": value.get("priority") or "", "requested_ack": value.get("requested_ack") is True,
            "persistent_notifications": value.get("persistent_notifications") is True}


async def attach_acknowledgements(conn: AsyncConnection, posts: list[Post]) -> None:
    """Fill ``metadata.acknowledgements`` of the posts that carry a priority, with one query."""
    ids = [p.id for p in posts if p.priority and not p.delete_at]
    if not ids:
        return
    by_post: dict[str, list[PostAcknowledgement]] = defaultdict(list)
    for row in await repo.select_acks(conn, ids):
        by_post[row["post_id"]].append(PostAcknowledgement(**row))
    for p in posts:
        p.acknowledgements = by_post.get(p.id, [])
