"""A "Mattermost peer" for the cluster fixture: a real Isthmus node whose wire behaviour is rewritten to
Mattermost's where the two differ (``mattermost-protocol.md`` §1.9, §3.3, §5.5, §6.3), so our sender is tested
against what a real Mattermost server would do with its frames, not only against ourselves.

Inbound (requests to the peer), by the peer's RoutingTransport handler:
* sync messages are decoded by the Go harness first, as Mattermost decodes them: a payload that does not decode
  (a field of the wrong JSON type) is answered FAIL "invalid sync message" as a whole (``peer.refused``);
* topics Mattermost has no listener for (``isthmus_*``, and ``sharedchannel_unshare``, which the newest
  Mattermost does not register) are answered ``{"status":"OK","err":"","payload":null}`` and dropped: the peer
  learns about an unshare lazily, from the FAIL "channel is no longer shared" its next sync gets (§5.5);
* keys Mattermost's structs do not have (``isthmus_*``) are dropped from every synced object, and its FAIL text
  never carries our "; channel was deleted" suffix;
* reactions are upserted the Mattermost way (``upsertSyncReaction``): if the peer has a row for (user, post,
  emoji) from the sender — removed ones included — any incoming copy deletes it; if it has none, the incoming
  one is stored as it is, even when removed. A sender that re-sends an unchanged reaction toggles it.
Outbound (requests from the peer), by a wrapper around its HTTP transport: it never sends ``isthmus_*`` topics or
``sharedchannel_unshare``, and drops ``isthmus_*`` keys. Its frames are not recorded for the Go harness (they are
Mattermost's in this play), but the answers Isthmus nodes give it are.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from isthmus.federation.sync.messages import CHANNEL_DELETED_TEXT
from isthmus.store.repo import reactions as reactions_repo
from tests.conformance import harness
from tests.testlib import wirelog
from tests.testlib.cluster import Cluster, Node

EXTENSION_PREFIX = "isthmus_"
# Topics a current Mattermost server has no listener for (§3.3): it answers OK with a null payload.
IGNORED_TOPICS = ("sharedchannel_unshare",)
MSG_PATH = "/api/v4/remotecluster/msg"
SYNC_TOPICS = ("sharedchannel_sync", "sharedchannel_membership", "sharedchannel_global_user_sync")


def _ignored(topic: str) -> bool:
    return topic.startswith(EXTENSION_PREFIX) or topic in IGNORED_TOPICS


def _ok_null(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, request=request, content=b'{"status":"OK","err":"","payload":null}',
                          headers={"Content-Type": "application/json"})


def _fail(request: httpx.Request, err: str) -> httpx.Response:
    body = json.dumps({"status": "FAIL", "err": err, "payload": None}).encode()
    return httpx.Response(200, request=request, content=body, headers={"Content-Type": "application/json"})


def _strip(obj: Any) -> Any:
    """Drop keys Mattermost's structs do not have from synced objects (posts, users, reactions, ...)."""
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if not k.startswith(EXTENSION_PREFIX)}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _frame(body: bytes) -> dict[str, Any] | None:
    try:
        frame = json.loads(body)
    except ValueError:
        return None
    if not isinstance(frame, dict) or not isinstance(frame.get("msg"), dict):
        return None
    return frame


def _rebuild(request: httpx.Request, frame: dict[str, Any]) -> httpx.Request:
    body = json.dumps(frame, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
    out = httpx.Request(request.method, request.url, headers=headers, content=body)
    out.extensions.update(request.extensions)
    return out


class MattermostPeer:
    def __init__(self, cluster: Cluster, node: Node) -> None:
        self.cluster = cluster
        self.node = node
        self.toggled: list[tuple[str, str, str]] = []  # (user, post, emoji) a re-send deleted on this peer
        self.dropped_topics: list[str] = []  # topics it answered OK without a listener
        self.refused: list[str] = []  # sync messages its Go decoder refused as a whole (the Go harness's error)

    async def inbound(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        frame = _frame(body) if request.url.path == MSG_PATH else None
        if frame is not None:
            topic = str(frame["msg"].get("topic", ""))
            if _ignored(topic):
                self.dropped_topics.append(topic)
                return _ok_null(request)
            if topic in SYNC_TOPICS:
                # Mattermost decodes the payload into its Go structs first: one field of the wrong type and the
                # whole message fails ("invalid sync message"), the sender's cursor does not move.
                errors = [e for e in await harness.decode_one("request", request.url.path, topic, body)
                          if "does not decode" in e]
                if errors:
                    self.refused.append(errors[0])
                    return _fail(request, f"invalid sync message: {errors[0]}")
            frame["msg"]["payload"] = _strip(frame["msg"].get("payload"))
            if topic == "sharedchannel_sync":
                await self._toggle_reactions(str(frame.get("remote_id", "")), frame["msg"]["payload"])
            request = _rebuild(request, frame)
        transport = httpx.ASGITransport(app=self.cluster.net.apps[self.node.host])
        response = await transport.handle_async_request(request)
        if frame is None or response.status_code != 200:
            return response
        return self._as_mattermost_answers(request, await response.aread())

    @staticmethod
    def _as_mattermost_answers(request: httpx.Request, raw: bytes) -> httpx.Response:
        """Our FAIL text for a deleted channel carries an extension suffix; Mattermost's never does."""
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = None
        if isinstance(answer, dict) and isinstance(answer.get("err"), str):
            answer["err"] = answer["err"].replace(CHANNEL_DELETED_TEXT, "")
            raw = json.dumps(answer, separators=(",", ":")).encode()
        return httpx.Response(200, request=request, content=raw, headers={"Content-Type": "application/json"})

    async def _toggle_reactions(self, sender: str, payload: Any) -> None:
        if not isinstance(payload, dict) or not isinstance(payload.get("reactions"), list):
            return
        d = self.node.server.domain
        async with d.db.read() as conn:
            for r in payload["reactions"]:
                if not isinstance(r, dict):
                    continue
                existing = await reactions_repo.select_reaction(conn, str(r.get("user_id")), str(r.get("post_id")),
                                                                str(r.get("emoji_name")))
                if existing is None or existing["remote_id"] != sender:
                    continue  # none yet: Mattermost saves the incoming one as it is
                # Mattermost deletes the row whatever the incoming delete_at says; expressed to our receiver as a
                # removal newer than what it has.
                when = max(d.now(), int(existing["update_at"]) + 1)
                r["delete_at"] = r["update_at"] = when
                self.toggled.append((existing["user_id"], existing["post_id"], existing["emoji_name"]))


class MattermostOutbound(httpx.AsyncBaseTransport):
    """The peer's own sends, as Mattermost would make them."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.extensions[wirelog.FOREIGN] = True
        if request.url.path != MSG_PATH:
            return await self.inner.handle_async_request(request)
        frame = _frame(await request.aread())
        if frame is None:
            return await self.inner.handle_async_request(request)
        if _ignored(str(frame["msg"].get("topic", ""))):
            return _ok_null(request)  # Mattermost never sends these; pretend it was never needed
        frame["msg"]["payload"] = _strip(frame["msg"].get("payload"))
        return await self.inner.handle_async_request(_rebuild(request, frame))


async def add_mattermost_peer(cluster: Cluster, name: str, env: dict[str, str] | None = None) -> tuple[Node,
                                                                                                     MattermostPeer]:
    """A node of ``cluster`` that behaves like a Mattermost server on the wire (see the module docstring)."""
    node = await cluster.add(name, env=env, transport=MattermostOutbound(cluster.net))
    peer = MattermostPeer(cluster, node)
    cluster.net.handlers[node.host] = peer.inbound
    return node, peer
