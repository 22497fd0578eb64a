"""Who may see an event: channel and team member sets, cached between membership changes.

Correctness over hit rate: any event that can change membership clears the *whole* cache (they
are rare next to posts, and a refill is one indexed query), and entries also expire after
``max_age_ms`` so a membership change that reached the database without an event (a future code
path, a second process) is bounded in time. The hub dispatches events one at a time in publish
order, so a cache filled while handling event N is always cleared before event N+1 when N+1 is
a membership change.
"""

from __future__ import annotations

from isthmus.core.clock import Clock
from isthmus.core.events import Event
from isthmus.store.engine import Database
from isthmus.store.repo import statuses as repo

# Events after which channel or team membership may differ from what is cached.
MEMBERSHIP_EVENTS = frozenset({
    "user_added", "user_removed", "channel_created", "channel_deleted", "channel_restored",
    "channel_converted", "channel_member_updated", "channel_scheme_updated", "direct_added", "group_added",
    "added_to_team", "leave_team", "update_team", "delete_team", "restore_team", "user_updated",
    "user_activation_status_change", "shared_channel_remote_updated",
})
MAX_ENTRIES = 50_000


class Audience:
    def __init__(self, db: Database, clock: Clock, *, max_age_ms: int = 10_000) -> None:
        self.db = db
        self.clock = clock
        self.max_age_ms = max_age_ms
        self._channels: dict[str, tuple[int, frozenset[str]]] = {}
        self._teams: dict[str, tuple[int, frozenset[str]]] = {}
        self.hits = 0
        self.misses = 0

    def invalidate(self) -> None:
        self._channels.clear()
        self._teams.clear()

    def observe(self, event: Event) -> None:
        """Call for every event *before* computing its recipients (a new member gets ``user_added``)."""
        if event.kind in MEMBERSHIP_EVENTS:
            self.invalidate()

    async def channel_members(self, channel_id: str) -> frozenset[str]:
        return await self._get(self._channels, channel_id, team=False)

    async def team_members(self, team_id: str) -> frozenset[str]:
        return await self._get(self._teams, team_id, team=True)

    async def _get(self, cache: dict[str, tuple[int, frozenset[str]]], key: str, *, team: bool) -> frozenset[str]:
        now = self.clock.now_ms()
        hit = cache.get(key)
        if hit is not None and now - hit[0] < self.max_age_ms:
            self.hits += 1
            return hit[1]
        self.misses += 1
        async with self.db.read() as conn:
            ids = await (repo.select_team_member_ids(conn, key) if team else repo.select_channel_member_ids(conn, key))
        members = frozenset(ids)
        if len(cache) >= MAX_ENTRIES:
            cache.clear()
        cache[key] = (now, members)
        return members
