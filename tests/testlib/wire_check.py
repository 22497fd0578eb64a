"""What a Mattermost peer's Go decoder would say about our frames (``mattermost-protocol.md`` §1.7–§1.9).

:class:`FrameRecorder` sits in front of one host of the in-process cluster and keeps every ``/msg`` frame sent
to it (topic, payload, the answer's payload) before handing the request on. :func:`go_type_errors` checks a
``sharedchannel_sync`` payload against the types Go's ``encoding/json`` enforces on the structs the protocol
doc lists: one mismatch there makes Mattermost refuse the WHOLE message, so a test asserts the list is empty.
This is a Python reading of the tables, not the Go harness; it checks the fields the doc calls out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from isthmus.federation.wire import Msg, Response
from tests.testlib import wirelog
from tests.testlib.cluster import Cluster, Node

_INT_KEYS = {"create_at", "update_at", "delete_at", "edit_at", "last_reply_at", "reply_count",
             "last_picture_update", "last_password_update", "acknowledged_at", "last_activity_at",
             "dnd_end_time", "change_time", "file_size", "file_offset"}
_STRING_MAPS = ("props", "timezone", "notify_props")


async def send(sender: Node, to: Node, remote_id: str, topic: str, payload: Any) -> Response:
    """A hand-made frame from ``sender`` to ``to`` with sender's real credentials. A generous timeout: the
    cluster's FAST timings give sends 2 s, which a loaded machine can exceed and turn into a false failure."""
    rc = await sender.row(remote_id)
    msg = Msg.new(topic, payload, 1)
    with wirelog.hand_made():  # often malformed on purpose: not for the Go harness (our answers to it are)
        return await sender.connections.client.send_msg(to.url, msg, remote_id=remote_id, token=rc.remote_token,
                                                        timeout_s=30)


@dataclass
class Frame:
    topic: str
    payload: Any
    answer: Any


@dataclass
class FrameRecorder:
    """Every ``/msg`` frame delivered to ``node`` (through the cluster's routing transport)."""

    node: Node
    frames: list[Frame] = field(default_factory=list)

    @staticmethod
    def install(cluster: Cluster, node: Node) -> FrameRecorder:
        rec = FrameRecorder(node)
        net = cluster.net

        async def handler(request: httpx.Request) -> httpx.Response:
            body = await request.aread()
            response = await httpx.ASGITransport(app=net.apps[node.host]).handle_async_request(request)
            if request.url.path.endswith("/remotecluster/msg"):
                raw = await response.aread()
                frame = json.loads(body)
                answer = json.loads(raw) if response.status_code == 200 else None
                rec.frames.append(Frame(frame["msg"]["topic"], frame["msg"].get("payload"),
                                        answer.get("payload") if isinstance(answer, dict) else None))
                return httpx.Response(response.status_code, headers=response.headers, content=raw,
                                      request=request)
            return response

        net.handlers[node.host] = handler
        return rec

    def syncs(self) -> list[Any]:
        return [f.payload for f in self.frames if f.topic == "sharedchannel_sync"]


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _ints(obj: dict[str, Any], where: str, errors: list[str]) -> None:
    for key in _INT_KEYS & obj.keys():
        if obj[key] is not None and not _is_int(obj[key]):
            errors.append(f"{where}.{key}: {obj[key]!r} is not an int64")


def user_type_errors(user: Any, where: str) -> list[str]:
    errors: list[str] = []
    if not isinstance(user, dict):
        return [f"{where}: not an object"]
    _ints(user, where, errors)
    for key in _STRING_MAPS:
        value = user.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            errors.append(f"{where}.{key}: not an object")
            continue
        errors.extend(f"{where}.{key}.{k}: {v!r} is not a string" for k, v in value.items() if not isinstance(v, str))
    return errors


def post_type_errors(post: Any, where: str) -> list[str]:
    errors: list[str] = []
    if not isinstance(post, dict):
        return [f"{where}: not an object"]
    _ints(post, where, errors)
    participants = post.get("participants")
    if participants is not None:
        if not isinstance(participants, list):
            errors.append(f"{where}.participants: not a list")
        else:
            for i, u in enumerate(participants):
                errors.extend(user_type_errors(u, f"{where}.participants[{i}]"))
    metadata = post.get("metadata")
    if isinstance(metadata, dict):
        priority = metadata.get("priority")
        if priority is not None:
            if not isinstance(priority, dict):
                errors.append(f"{where}.metadata.priority: not an object")
            else:
                if not isinstance(priority.get("priority", ""), str):
                    errors.append(f"{where}.metadata.priority.priority: not a string")
                for key in ("requested_ack", "persistent_notifications"):
                    if priority.get(key) is not None and not isinstance(priority[key], bool):
                        errors.append(f"{where}.metadata.priority.{key}: not a bool")
        acks = metadata.get("acknowledgements")
        if acks is not None:
            if not isinstance(acks, list):
                errors.append(f"{where}.metadata.acknowledgements: not a list")
            else:
                for i, a in enumerate(acks):
                    errors.extend(ack_type_errors(a, f"{where}.metadata.acknowledgements[{i}]"))
    return errors


def ack_type_errors(ack: Any, where: str) -> list[str]:
    errors: list[str] = []
    if not isinstance(ack, dict):
        return [f"{where}: not an object"]
    _ints(ack, where, errors)
    errors.extend(f"{where}.{k}: not a string" for k in ("user_id", "post_id", "channel_id", "remote_id")
                  if ack.get(k) is not None and not isinstance(ack[k], str))
    return errors


def go_type_errors(payload: Any) -> list[str]:
    """Type mismatches Go's decoder would reject in a SyncMsg (empty: a Mattermost peer decodes it)."""
    if not isinstance(payload, dict):
        return ["payload: not an object"]
    errors: list[str] = []
    users = payload.get("users")
    if users is not None:
        if not isinstance(users, dict):
            errors.append("users: not an object")
        else:
            for uid, u in users.items():
                errors.extend(user_type_errors(u, f"users[{uid}]"))
    for i, p in enumerate(payload.get("posts") or []):
        errors.extend(post_type_errors(p, f"posts[{i}]"))
    for i, r in enumerate(payload.get("reactions") or []):
        if isinstance(r, dict):
            _ints(r, f"reactions[{i}]", errors)
    for i, a in enumerate(payload.get("acknowledgements") or []):
        errors.extend(ack_type_errors(a, f"acknowledgements[{i}]"))
    return errors
