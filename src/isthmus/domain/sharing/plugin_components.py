"""Plugin components in shared channels (``FeatureFlags.EnableSharedChannelsPlugins``, seed "Plugin component
interaction").

With the flag off, interactive parts that integrations attach to a post are neither shown nor actionable in a
shared channel: the buttons and menus of message attachments (``props.attachments[].actions``) and Apps
bindings (``props.app_bindings``). Their handlers live on the server whose integration made them, so on any
other workspace a click would go nowhere. We strip them where a post enters a shared channel: when a local post
is written there, when a post is sent to a peer (posts written before the channel was shared) and when a post
is received (the peer may have the flag on), and when integration output is shown to one person only (an
ephemeral post: a slash command's or an integration's answer) in a shared channel. The text of the post and of
its attachments stays.
"""

from __future__ import annotations

from typing import Any

from isthmus.config import Config
from isthmus.domain.context import Domain
from isthmus.store.repo import access as access_repo

COMPONENT_PROPS = ("app_bindings",)


def allowed(config: Config) -> bool:
    return config.FeatureFlags.EnableSharedChannelsPlugins


def has_components(props: dict[str, Any]) -> bool:
    if any(k in props for k in COMPONENT_PROPS):
        return True
    attachments = props.get("attachments")
    return isinstance(attachments, list) and any(isinstance(a, dict) and "actions" in a for a in attachments)


def without_components(props: dict[str, Any]) -> dict[str, Any]:
    """``props`` without interactive components (the same object when it has none: the common case)."""
    if not has_components(props):
        return props
    out = {k: v for k, v in props.items() if k not in COMPONENT_PROPS}
    attachments = props.get("attachments")
    if isinstance(attachments, list):
        out["attachments"] = [{k: v for k, v in a.items() if k != "actions"} if isinstance(a, dict) else a
                              for a in attachments]
    return out


def for_shared(config: Config, props: dict[str, Any]) -> dict[str, Any]:
    """The props a shared channel keeps: unchanged when the flag allows plugin components."""
    return props if allowed(config) else without_components(props)


async def for_channel(d: Domain, channel_id: str, props: dict[str, Any]) -> dict[str, Any]:
    """The props an unsaved (ephemeral) post may show in ``channel_id``: ``for_shared`` when the channel is shared.
    Looks the channel up only when there is something to strip."""
    if allowed(d.config) or not has_components(props):
        return props
    async with d.db.read() as conn:
        row = await access_repo.select_channel(conn, channel_id)
    return without_components(props) if row is not None and row["shared"] else props
