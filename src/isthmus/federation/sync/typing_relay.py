"""``isthmus_typing`` (our topic): "someone is typing" crosses servers in shared channels (issue 15 item 8a).

Ephemeral, so it never enters the outbox: a local ``typing`` event in a shared channel is sent straight to each
confirmed connection the channel is shared with, at most once per ``MIN_INTERVAL_MS`` per person and channel
(a client repeats ``user_typing`` every few seconds while the person types; more would only add traffic). A
lost one is simply lost. The receiver shows it to the channel's members as a ``typing`` event from the remote
person; a home relays it to its other copies, never back to where it came from. A Mattermost peer answers OK
to a topic it does not know and ignores it.
"""

from __future__ import annotations

import logging
from typing import Any

from isthmus.core.events import Event
from isthmus.core.ids import is_valid_id
from isthmus.domain.context import Domain
from isthmus.domain.remotes import RemoteCluster, find_live_remote
from isthmus.domain.sharing import shares
from isthmus.federation.connections import Connections
from isthmus.federation.outbound import Outbound
from isthmus.federation.transport import TransportError
from isthmus.federation.wire import Msg
from isthmus.store.repo import users as users_repo

TOPIC_TYPING = "isthmus_typing"
MIN_INTERVAL_MS = 2000
_MAX_REMEMBERED = 10_000  # (channel, user) pairs; the table is cleared past this (one extra send each at worst)
log = logging.getLogger(__name__)


class TypingRelay:
    def __init__(self, d: Domain, conns: Connections, outbound: Outbound) -> None:
        self.d = d
        self.conns = conns
        self.outbound = outbound
        self._last_sent: dict[tuple[str, str], int] = {}

    def _due(self, channel_id: str, user_id: str) -> bool:
        now = self.d.now()
        key = (channel_id, user_id)
        if now - self._last_sent.get(key, -MIN_INTERVAL_MS) < MIN_INTERVAL_MS:
            return False
        if len(self._last_sent) >= _MAX_REMEMBERED:
            self._last_sent.clear()
        self._last_sent[key] = now
        return True

    async def on_event(self, event: Event) -> None:
        """A ``typing`` event here (local, or received from ``event.origin``): pass it on, rate limited."""
        user_id = event.data.get("user_id")
        if not event.channel_id or not isinstance(user_id, str) or not self.outbound.running:
            return
        if not self._due(event.channel_id, user_id):
            return
        self.outbound.spawn(self._send_all(event.channel_id, user_id, str(event.data.get("parent_id") or ""),
                                           event.origin))

    async def _send_all(self, channel_id: str, user_id: str, parent_id: str, origin: str | None) -> None:
        rows = await shares.list_channel_remotes(self.d, channel_id)
        payload = {"channel_id": channel_id, "user_id": user_id, "parent_id": parent_id}
        for row in rows:
            if row.remote_id == origin or not row.is_invite_confirmed:
                continue
            if not self.outbound.leases.may_send_now(row.remote_id):
                continue  # the process holding this peer's lease sends it (every process sees the event)
            rc = await find_live_remote(self.d, row.remote_id)
            if rc is None or not rc.is_confirmed or rc.is_plugin:
                continue
            self.outbound.spawn(self._send(rc, payload))

    async def _send(self, rc: RemoteCluster, payload: dict[str, Any]) -> None:
        try:
            msg = Msg.new(TOPIC_TYPING, payload, self.d.now())
            await self.conns.client.send_msg(rc.site_url, msg, remote_id=rc.remote_id, token=rc.remote_token)
        except TransportError as err:
            log.debug("typing to %s not delivered: %s", rc.remote_id, err)

    async def on_typing(self, msg: Msg, rc: RemoteCluster) -> None:
        """Receiver: a remote person is typing in a channel this connection shares with us."""
        p = msg.payload if isinstance(msg.payload, dict) else {}
        channel_id, user_id, parent_id = p.get("channel_id"), p.get("user_id"), p.get("parent_id") or ""
        if not is_valid_id(channel_id) or not is_valid_id(user_id) or \
                not (parent_id == "" or is_valid_id(parent_id)):
            return
        assert isinstance(channel_id, str) and isinstance(user_id, str) and isinstance(parent_id, str)
        row = await shares.get_channel_remote(self.d, channel_id, rc.remote_id)
        if row is None or row.delete_at or not row.is_invite_confirmed:
            return  # not shared with that connection: nothing it may say about the channel
        async with self.d.db.read() as conn:
            user = await users_repo.select_user(conn, user_id)
        if user is None or not user["remote_id"] or user["delete_at"]:
            return  # unknown here yet (never took part), or one of our own people: a peer cannot type for them
        await self.d.bus.publish([Event("typing", {"parent_id": parent_id, "user_id": user_id},
                                        channel_id=channel_id, omit_users=frozenset({user_id}),
                                        origin=rc.remote_id)])
