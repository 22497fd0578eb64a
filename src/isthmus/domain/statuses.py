"""User statuses (presence): online / away / dnd / offline, as Mattermost's ``app/platform/status.go``.

Rules copied from Mattermost:
- a *manual* status (set by the user: away, dnd, offline) is never overridden by automatic activity;
  ``online`` is never manual;
- a socket connecting or a client action is activity (automatic online); the last socket closing is
  automatic offline; an automatic online with no activity for the away timeout becomes away;
- a timed DND (``dnd_end_time``, in *seconds*, truncated to the minute) falls back to the previous
  manual status, or to automatic presence (online if connected, else offline).

The process keeps a cache of the statuses it has seen (statuses change far more often than they
are read from elsewhere); every *status* change is written through in a transaction and announced
with ``status_change`` after commit. Pure activity (online → online) only refreshes the cache and
is written at most once per ``ACTIVITY_SAVE_INTERVAL_MS``, so an idle sweep after a restart or in
another process sees activity that is at most that stale.

Shared channels: a change of what a status says (status, manual, DND end) of a local user queues it for the
connected workspaces that know the user (``record_status_changed``, same transaction). A synthetic user's
status belongs to its home server: only :func:`apply_synced_status` writes it, and the idle sweep and the
startup reset leave it alone.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from isthmus.core.errors import AppError, forbidden, invalid_param
from isthmus.core.events import Event
from isthmus.core.ids import is_valid_id
from isthmus.domain.access import access_channel
from isthmus.domain.changes import record_status_changed
from isthmus.domain.context import Domain, Tx, retrying, transaction
from isthmus.domain.models import Actor
from isthmus.domain.roles import has_system_permission
from isthmus.domain.users import get_user
from isthmus.store.repo import statuses as repo

ONLINE, AWAY, DND, OFFLINE = "online", "away", "dnd", "offline"
STATUSES = frozenset({ONLINE, AWAY, DND, OFFLINE})
ACTIVITY_SAVE_INTERVAL_MS = 60_000
DEFAULT_AWAY_AFTER_MS = 5 * 60_000
_CACHE = "statuses"
_LOCK = "statuses_lock"


@dataclass(slots=True)
class Status:
    user_id: str
    status: str
    manual: bool
    last_activity_at: int
    dnd_end_time: int
    prev_status: str
    # The status clock (last writer wins across servers): when what the status says (``_synced_part``) last
    # changed; for a synthetic user, the owner's clock of the last status applied. Sent as ``isthmus_status_at``.
    status_at: int = 0


def status_json(s: Status) -> dict[str, Any]:
    """Mattermost's ``model.Status`` JSON (``prev_status`` is ``json:"-"`` there)."""
    return {"user_id": s.user_id, "status": s.status, "manual": s.manual,
            "last_activity_at": s.last_activity_at, "dnd_end_time": s.dnd_end_time}


def _offline(user_id: str) -> Status:
    return Status(user_id, OFFLINE, False, 0, 0, "")


def _cache(d: Domain) -> dict[str, tuple[Status, int]]:
    """user_id → (status, last_activity_at as last written to the database)."""
    cache: dict[str, tuple[Status, int]] = d.caches.setdefault(_CACHE, {})
    return cache


def _lock(d: Domain) -> asyncio.Lock:
    # One writer at a time keeps the read-modify-write of a status consistent with the cache.
    lock = d.caches.get(_LOCK)
    if not isinstance(lock, asyncio.Lock):
        lock = d.caches[_LOCK] = asyncio.Lock()
    return lock


def forget_cached(d: Domain, user_id: str) -> None:
    """Another process changed ``user_id``'s status: the next read or change here starts from the database."""
    _cache(d).pop(user_id, None)


async def get_statuses(d: Domain, user_ids: list[str]) -> list[Status]:
    """Statuses in request order; users without a row (or unknown ids) are offline, as in Mattermost."""
    cache = _cache(d)
    wanted = list(dict.fromkeys(user_ids))
    missing = [u for u in wanted if u not in cache]
    if missing:
        async with d.db.read() as conn:
            rows = await repo.select_statuses(conn, missing)
        for row in rows:
            cache.setdefault(row["user_id"], (Status(**row), row["last_activity_at"]))
    return [cache[u][0] if u in cache else _offline(u) for u in wanted]


async def get_status(d: Domain, user_id: str) -> Status:
    return (await get_statuses(d, [user_id]))[0]


async def list_active_statuses(d: Domain) -> dict[str, str]:
    """user_id → status for everyone not offline (the websocket ``get_statuses`` action)."""
    async with d.db.read() as conn:
        rows = await repo.select_statuses_not_offline(conn)
    out = {r["user_id"]: r["status"] for r in rows}
    for uid, (s, _) in _cache(d).items():
        out[uid] = s.status
    return {uid: st for uid, st in out.items() if st != OFFLINE}


def _synced_part(s: Status) -> tuple[str, bool, int]:
    # What connected workspaces are told about; activity alone changes too often to be worth a message.
    return s.status, s.manual, s.dnd_end_time


def _write(d: Domain, tx: Tx, new: Status, *, announce: bool, origin: str | None = None) -> None:
    if announce:
        tx.emit(Event("status_change", {"status": new.status, "user_id": new.user_id}, user_id=new.user_id,
                      origin=origin))
    tx.after_commit.append(lambda: _cache(d).__setitem__(new.user_id, (new, new.last_activity_at)))


async def _save(d: Domain, new: Status, *, announce: bool, sync: bool) -> Status:
    """Write ``new`` and, if the visible status changed, emit ``status_change`` after commit."""
    async def write() -> Status:
        async with transaction(d) as tx:
            await repo.upsert_status(tx.conn, dataclasses.asdict(new))
            _write(d, tx, new, announce=announce)
            if sync:  # locks shared_channels rows: may cross a received, relayed status (PostgreSQL)
                await record_status_changed(d, tx, new.user_id, None)
        return new
    return await retrying(write)


async def _change(d: Domain, user_id: str, decide: Callable[[Status, int], Status | None]) -> Status:
    """Serialised read-modify-write: ``decide(current, now)`` returns the new status or None to keep it."""
    async with _lock(d):
        current = await _current(d, user_id)
        at = d.now()
        new = decide(current, at)
        if new is None:
            return current
        sync = _synced_part(new) != _synced_part(current)
        # Strictly increasing per user, even if the wall clock steps back: a peer keeps the newest.
        new.status_at = max(at, current.status_at + 1) if sync else current.status_at
        return await _save(d, new, announce=new.status != current.status, sync=sync)


async def _current(d: Domain, user_id: str) -> Status:
    """What a change starts from: the database row (another serving process may have changed it since this one
    cached it, e.g. a status chosen by hand), with the newer of the cached and stored activity (activity is
    written at most once per ACTIVITY_SAVE_INTERVAL_MS). One query per actual change, not per activity."""
    async with d.db.read() as conn:
        row = await repo.select_status(conn, user_id)
    cached = _cache(d).get(user_id)
    if row is None:
        return cached[0] if cached is not None else _offline(user_id)
    current = Status(**row)
    if cached is not None and cached[0].last_activity_at > current.last_activity_at:
        current.last_activity_at = cached[0].last_activity_at
    return current


async def apply_synced_status(d: Domain, tx: Tx, new: Status, origin: str) -> bool:
    """Save a status the user's own server sent (the caller checked that ``origin`` owns the user), in the
    caller's transaction; announced like a local change, relayed to the other workspaces that know the user.
    False when nothing changed (inbound sync is idempotent) or when it is older than the status we have (last
    writer wins by ``status_at``; a status without a clock applies and keeps ours). No ``_lock``: it would
    wait for a writer while this transaction holds the database, and nothing else writes a synthetic user's
    status."""
    row = await repo.select_status(tx.conn, new.user_id)
    current = Status(**row) if row else _offline(new.user_id)
    if new.status_at and new.status_at < current.status_at:
        return False  # older than what we have (a late message): last writer wins
    if not new.status_at:  # no clock (0): applied, and the clock we have stays
        new = dataclasses.replace(new, status_at=current.status_at)
    if current == new:
        return False
    await repo.upsert_status(tx.conn, dataclasses.asdict(new))
    _write(d, tx, new, announce=new.status != current.status, origin=origin)
    if _synced_part(new) != _synced_part(current):
        await record_status_changed(d, tx, new.user_id, origin)
    return True


async def set_online(d: Domain, user_id: str) -> Status:
    """Activity: automatic online, unless the user chose a status by hand (SetStatusOnline(manual=false))."""
    now = d.now()
    cached = _cache(d).get(user_id)
    if cached is not None:
        status, saved = cached
        if status.manual:
            return status
        if status.status == ONLINE and now - saved < ACTIVITY_SAVE_INTERVAL_MS:
            status.last_activity_at = now  # hot path: no write, no event
            return status

    def decide(cur: Status, at: int) -> Status | None:
        if cur.manual:
            return None
        return Status(user_id, ONLINE, False, at, 0, "")

    return await _change(d, user_id, decide)


async def set_manual_online(d: Domain, user_id: str) -> Status:
    # Choosing "online" by hand clears any manual status; online itself is never manual.
    return await _change(d, user_id, lambda cur, at: Status(user_id, ONLINE, False, at, 0, ""))


async def set_offline(d: Domain, user_id: str, *, manual: bool = False) -> Status:
    def decide(cur: Status, at: int) -> Status | None:
        if cur.manual and not manual:
            return None
        if cur.status == OFFLINE and cur.manual == manual:
            return None
        return Status(user_id, OFFLINE, manual, at if manual else cur.last_activity_at, 0, "")

    return await _change(d, user_id, decide)


async def set_away(d: Domain, user_id: str, *, manual: bool = False, away_after_ms: int = 0) -> Status:
    """SetStatusAwayIfNeeded: automatic away only for an automatic status idle for ``away_after_ms``."""
    def decide(cur: Status, at: int) -> Status | None:
        if not manual:
            if cur.manual or cur.status in (AWAY, OFFLINE):
                return None
            if at - cur.last_activity_at < away_after_ms:
                return None
        return Status(user_id, AWAY, manual, cur.last_activity_at, 0, "")

    return await _change(d, user_id, decide)


async def set_dnd(d: Domain, user_id: str, end_time_s: int = 0) -> Status:
    def decide(cur: Status, at: int) -> Status | None:
        # Only a status the user chose is worth restoring; "" means "back to automatic presence".
        prev = cur.prev_status if cur.status == DND else (cur.status if cur.manual else "")
        end = end_time_s - end_time_s % 60 if end_time_s else 0  # Mattermost truncates to the minute
        return Status(user_id, DND, True, cur.last_activity_at, end, prev if end else "")

    return await _change(d, user_id, decide)


def parse_status_body(body: dict[str, Any], path_user_id: str, raw_path_id: str) -> tuple[str, int]:
    """Validate a PUT /users/{id}/status body → (status, dnd_end_time seconds)."""
    status = body.get("status")
    if not isinstance(status, str) or status not in STATUSES:
        raise AppError("api.context.invalid_body_param.app_error", "Invalid or missing status in request body.",
                       400, f"status must be one of {sorted(STATUSES)}")
    body_uid = body.get("user_id")
    if body_uid not in (None, "", path_user_id, raw_path_id):
        raise AppError("api.context.invalid_body_param.app_error", "Invalid or missing user_id in request body.",
                       400, "user_id must match the user in the URL")
    end = body.get("dnd_end_time")
    if end is None:
        end = 0
    if isinstance(end, bool) or not isinstance(end, int) or end < 0 or end > 1 << 40:
        raise AppError("api.context.invalid_body_param.app_error",
                       "Invalid or missing dnd_end_time in request body.", 400, "seconds since the epoch")
    return status, end


async def do_update_status(d: Domain, actor: Actor, user_id: str, status: str, dnd_end_time: int = 0) -> Status:
    """REST / slash-command status change: self, or anyone for holders of edit_other_users."""
    if actor.user_id != user_id and not has_system_permission(d, actor, "edit_other_users"):
        raise forbidden("edit_other_users")
    await get_user(d, user_id)
    if status == ONLINE:
        return await set_manual_online(d, user_id)
    if status == OFFLINE:
        return await set_offline(d, user_id, manual=True)
    if status == AWAY:
        return await set_away(d, user_id, manual=True)
    if status == DND:
        return await set_dnd(d, user_id, dnd_end_time)
    raise AppError("api.context.invalid_body_param.app_error", "Invalid or missing status in request body.", 400)


async def sweep(d: Domain, away_after_ms: int, connected: Callable[[str], bool]) -> None:
    """Background pass: idle automatic online → away; expired timed DND → previous status.

    The database activity may lag the cache by ACTIVITY_SAVE_INTERVAL_MS, so rows are only
    candidates and ``set_away`` re-checks against the cached activity.
    """
    now = d.now()
    async with d.db.read() as conn:
        idle = await repo.select_idle_online(conn, now - away_after_ms)
        expired = await repo.select_expired_dnd(conn, now // 1000)
    for row in idle:
        await set_away(d, row["user_id"], away_after_ms=away_after_ms)
    for row in expired:
        uid = row["user_id"]
        # A chosen away/offline comes back as chosen (manual); otherwise presence decides.
        manual = row["prev_status"] in (AWAY, OFFLINE)
        back = row["prev_status"] if manual else (ONLINE if connected(uid) else OFFLINE)

        def decide(cur: Status, at: int, back: str = back, manual: bool = manual) -> Status | None:
            if cur.status != DND or not cur.dnd_end_time or cur.dnd_end_time > at // 1000:
                return None  # changed since the query ran
            return Status(cur.user_id, back, manual, cur.last_activity_at, 0, "")

        await _change(d, uid, decide)


async def reset_automatic(d: Domain) -> None:
    """At startup nobody is connected: automatic statuses left over from the last run are offline (and
    connected workspaces are told, or they would show a crashed server's users online forever)."""
    async def write() -> None:
        async with transaction(d) as tx:
            for user_id in await repo.update_automatic_to_offline(tx.conn, d.now()):
                await record_status_changed(d, tx, user_id, None)
    await retrying(write)
    _cache(d).clear()


async def publish_typing(d: Domain, actor: Actor, user_id: str, channel_id: object, parent_id: object) -> None:
    """``typing`` to the channel's members except the typer (no write, so nothing to commit)."""
    if not isinstance(channel_id, str) or not is_valid_id(channel_id):
        raise invalid_param("channel_id")
    if parent_id is None:
        parent_id = ""
    if not isinstance(parent_id, str) or (parent_id and not is_valid_id(parent_id)):
        raise invalid_param("parent_id")
    typer = actor
    if user_id != actor.user_id:
        if not has_system_permission(d, actor, "manage_system"):
            raise forbidden("manage_system")
        user = await get_user(d, user_id)
        typer = Actor(user.id, user.roles)
    async with d.db.read() as conn:
        await access_channel(d, conn, typer, channel_id, "create_post")
    await d.bus.publish([Event("typing", {"parent_id": parent_id, "user_id": user_id}, channel_id=channel_id,
                               omit_users=frozenset({user_id}))])
