"""``isthmus_limits`` (our topic): each side tells the other its max file size, attachments on/off and max post
size, so a sender skips files the peer would refuse and warns the person posting them (issue 13).

The sender's queue sends its limits once after each start and again after a config change; the answer
carries the peer's limits, so one round trip informs both sides. A Mattermost peer answers OK with a null
payload: nothing is stored and its refusals are learnt from its answers to the uploads instead.
"""

from __future__ import annotations

import logging
from typing import Any

from isthmus.domain.context import Domain
from isthmus.domain.remotes import RemoteCluster
from isthmus.domain.sharing.refusals import Limits, local_limits, store_peer_limits
from isthmus.federation.sync.messages import TOPIC_LIMITS
from isthmus.federation.transport import RemoteClient
from isthmus.federation.wire import Msg

log = logging.getLogger(__name__)


async def on_limits(d: Domain, rc: RemoteCluster, payload: Any) -> dict[str, Any]:
    """Receiver: store what the peer announced, answer ours."""
    limits = Limits.from_obj(payload)
    if limits is not None:
        await store_peer_limits(d, rc.remote_id, limits)
    return local_limits(d).to_obj()


async def exchange(d: Domain, client: RemoteClient, rc: RemoteCluster) -> bool:
    """Sender: announce ours, store theirs. True once the peer answered (OK or FAIL: it will not change its
    mind by asking again); a transport error raises, and the next pass tries again."""
    msg = Msg.new(TOPIC_LIMITS, local_limits(d).to_obj(), d.now())
    reply = await client.send_msg(rc.site_url, msg, remote_id=rc.remote_id, token=rc.remote_token)
    if not reply.ok:
        log.debug("limits to %s refused: %s", rc.remote_id, reply.err[:200])
        return True
    limits = Limits.from_obj(reply.payload)
    if limits is not None:
        await store_peer_limits(d, rc.remote_id, limits)
    return True
