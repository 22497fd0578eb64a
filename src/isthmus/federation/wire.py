"""Server-to-server wire shapes of Mattermost's remote-cluster protocol (``mattermost-protocol.md`` §1.7, §3).

Pure: no I/O, no store, no domain. Every shape serialises the way Go's ``encoding/json`` does
(compact, keys in struct order, ``<``/``>``/``&`` escaped) so that what we sign, encrypt or send is
byte-for-byte what a Mattermost server would produce, and every parser accepts any valid JSON a
Mattermost server may send. Malformed input raises :class:`AppError` with Mattermost's error ids, so
the HTTP edge can answer it directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from isthmus.core import strict_json
from isthmus.core.errors import AppError
from isthmus.core.ids import is_valid_id, new_id

HEADER_REMOTE_ID = "X-RemoteCluster-Id"
HEADER_TOKEN = "X-RemoteCluster-Token"

TOPIC_PING = "ping"
TOPIC_INVITATION = "invitation"

STATUS_OK = "OK"
STATUS_FAIL = "FAIL"

PATH_PING = "api/v4/remotecluster/ping"
PATH_MSG = "api/v4/remotecluster/msg"
PATH_CONFIRM_INVITE = "api/v4/remotecluster/confirm_invite"

# The invite version we write: ≥ 3 means PBKDF2 key derivation and a refreshed token on confirm.
INVITE_VERSION = 3

# Go's encoder escapes these for HTML safety; reproduce it so encrypted invites match byte for byte.
_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_json(value: Any) -> bytes:
    """Compact JSON the way Go's ``json.Marshal`` writes it (dict order = struct field order)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if any(ch in text for ch in _GO_ESCAPES):
        text = "".join(_GO_ESCAPES.get(ch, ch) for ch in text)
    return text.encode("utf-8")


def _unmarshal_error(detail: str) -> AppError:
    return AppError("api.unmarshal_error", "Failed to unmarshal.", 400, detail)


def loads_object(raw: bytes | str, what: str = "body") -> dict[str, Any]:
    try:
        # A hostile peer's NUL or lone surrogate is scrubbed here (as Go's decoder would), and an
        # out-of-range number refused, so neither can fail a database write later.
        value = strict_json.loads_like_go(raw)
    except strict_json.UnsafeJSON as err:
        raise _unmarshal_error(f"{what}: {err}") from None
    if not isinstance(value, dict):
        raise _unmarshal_error(f"{what}: expected a JSON object")
    return value


def _str(obj: dict[str, Any], key: str, what: str) -> str:
    value = obj.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _unmarshal_error(f"{what}.{key}: expected a string")
    return value


def _int(obj: dict[str, Any], key: str, what: str) -> int:
    value = obj.get(key, 0)
    if value is None:
        return 0
    # bool is an int in Python but not in Go: refuse it like Go's decoder would.
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
        raise _unmarshal_error(f"{what}.{key}: expected an int64")
    return value


def is_absolute_url(value: str) -> bool:
    """Go's ``url.ParseRequestURI`` as used by ``RemoteClusterInvite.IsValid``: an absolute URI."""
    if not value or any(ch.isspace() for ch in value):
        return False
    parts = urlsplit(value)
    return bool(parts.scheme) and (bool(parts.netloc) or parts.path.startswith("/"))


@dataclass(frozen=True, slots=True)
class Invite:
    """RemoteClusterInvite: what the invite code carries, and the payload of ``confirm_invite``.

    ``repr`` hides the tokens so an invite never lands in a log line by accident.
    """

    remote_id: str
    site_url: str
    token: str
    remote_team_id: str = ""
    refreshed_token: str = ""
    version: int = 0

    def __repr__(self) -> str:
        return f"Invite(remote_id={self.remote_id!r}, site_url={self.site_url!r}, version={self.version})"

    def to_obj(self) -> dict[str, Any]:
        out: dict[str, Any] = {"remote_id": self.remote_id, "remote_team_id": self.remote_team_id,
                               "site_url": self.site_url, "token": self.token}
        if self.refreshed_token:
            out["refreshed_token"] = self.refreshed_token
        if self.version:
            out["version"] = self.version
        return out

    def to_json(self) -> bytes:
        return go_json(self.to_obj())

    @staticmethod
    def from_obj(obj: dict[str, Any]) -> Invite:
        w = "invite"
        return Invite(remote_id=_str(obj, "remote_id", w), site_url=_str(obj, "site_url", w),
                      token=_str(obj, "token", w), remote_team_id=_str(obj, "remote_team_id", w),
                      refreshed_token=_str(obj, "refreshed_token", w), version=_int(obj, "version", w))

    def validate(self) -> None:
        """``RemoteClusterInvite.IsValid``."""
        if not is_valid_id(self.remote_id):
            raise AppError("model.remote_cluster_invite.is_valid.remote_id.app_error",
                           "Invalid remote id in the invitation.", 400)
        if not self.token:
            raise AppError("model.remote_cluster_invite.is_valid.token.app_error",
                           "Invalid token in the invitation.", 400, "Token empty")
        if not is_absolute_url(self.site_url):
            raise AppError("model.remote_cluster_invite.is_valid.site_url.app_error",
                           "Invalid site URL in the invitation.", 400)


@dataclass(frozen=True, slots=True)
class Msg:
    """RemoteClusterMsg. ``payload`` is the decoded JSON value (the wire carries it embedded, not as a string)."""

    id: str
    topic: str
    create_at: int
    payload: Any

    @staticmethod
    def new(topic: str, payload: Any, now_ms: int) -> Msg:
        return Msg(id=new_id(), topic=topic, create_at=now_ms, payload=payload)

    def to_obj(self) -> dict[str, Any]:
        return {"id": self.id, "topic": self.topic, "create_at": self.create_at, "payload": self.payload}


_MISSING = object()


@dataclass(frozen=True, slots=True)
class Frame:
    """RemoteClusterFrame: the body of every server-to-server POST."""

    remote_id: str
    msg: Msg

    def to_json(self) -> bytes:
        return go_json({"remote_id": self.remote_id, "msg": self.msg.to_obj()})


def parse_frame(raw: bytes) -> Frame:
    """Decode and validate a frame (``RemoteClusterFrame.IsValid``)."""
    obj = loads_object(raw, "frame")
    msg_obj = obj.get("msg")
    if msg_obj is None:
        msg_obj = {}
    if not isinstance(msg_obj, dict):
        raise _unmarshal_error("frame.msg: expected a JSON object")
    payload = msg_obj.get("payload", _MISSING)
    frame = Frame(remote_id=_str(obj, "remote_id", "frame"),
                  msg=Msg(id=_str(msg_obj, "id", "msg"), topic=_str(msg_obj, "topic", "msg"),
                          create_at=_int(msg_obj, "create_at", "msg"),
                          payload=None if payload is _MISSING else payload))
    if not is_valid_id(frame.remote_id):
        raise AppError("api.remote_cluster.invalid_id.app_error", "Invalid remote id.", 400, "RemoteId")
    if not is_valid_id(frame.msg.id):
        raise AppError("api.remote_cluster.invalid_id.app_error", "Invalid message id.", 400, "Id")
    if not frame.msg.topic:
        raise AppError("api.remote_cluster.invalid_topic.app_error", "Invalid topic.", 400, "Topic empty")
    if payload is _MISSING:
        raise AppError("api.context.invalid_body_param.app_error", "Invalid or missing PayLoad in request body.",
                       400)
    return frame


@dataclass(frozen=True, slots=True)
class Ping:
    """RemoteClusterPing: ``sent_at`` by the pinger, ``recv_at`` stamped by the receiver."""

    sent_at: int
    recv_at: int = 0

    def to_obj(self) -> dict[str, Any]:
        return {"sent_at": self.sent_at, "recv_at": self.recv_at}

    @staticmethod
    def from_payload(payload: Any) -> Ping:
        if not isinstance(payload, dict):
            raise AppError("api.context.invalid_param.app_error", "Invalid msg.payload parameter.", 400)
        return Ping(sent_at=_int(payload, "sent_at", "ping"), recv_at=_int(payload, "recv_at", "ping"))


@dataclass(frozen=True, slots=True)
class Response:
    """The reply body of ``/msg`` (and of ``/confirm_invite``, which only sends ``status``)."""

    status: str = STATUS_OK
    err: str = ""
    payload: Any = None

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    def to_json(self) -> bytes:
        return go_json({"status": self.status, "err": self.err, "payload": self.payload})

    @staticmethod
    def from_json(raw: bytes) -> Response:
        obj = loads_object(raw, "response")
        status = _str(obj, "status", "response")
        if not status:
            raise _unmarshal_error("response.status: missing")
        return Response(status=status, err=_str(obj, "err", "response"), payload=obj.get("payload"))
