"""System messages in a channel when it is shared with, or unshared from, a workspace (Mattermost v11.5+).

Each server writes its own (they are local system posts, never synced: the oracle skips ``system_*``), and
names the other workspace by the name its admin gave the connection, so the home says "shared with Beta" and
the copy says "shared with Alpha".
"""

from __future__ import annotations

from isthmus.domain.context import Domain, Tx
from isthmus.domain.models import Channel, Post

SHARED_TYPE = "system_shared_with_workspace"
UNSHARED_TYPE = "system_unshared_from_workspace"


def shared_text(workspace: str) -> str:
    return f"This channel is now shared with {workspace}."


def unshared_text(workspace: str) -> str:
    return f"This channel is no longer shared with {workspace}."


async def post_notice(d: Domain, tx: Tx, channel: Channel, user_id: str, workspace: str, *, shared: bool) -> Post:
    # Imported here: synced -> refusals -> shares -> this module would be a cycle at import time.
    from isthmus.domain.synced.posts import post_system_message

    text = shared_text(workspace) if shared else unshared_text(workspace)
    return await post_system_message(d, tx, channel, user_id, text, SHARED_TYPE if shared else UNSHARED_TYPE)
