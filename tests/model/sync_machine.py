"""The model-based sync test's state machine (hypothesis ``RuleBasedStateMachine``), see test_sync_model.py.

Rules act through the real REST API of the acting person's own server (and the domain for an unshare, which
has no REST route); the machine owns one event loop and runs each rule's coroutine to completion on it, so
the servers' background tasks (senders, pingers) run whenever a rule awaits. Arguments are plain integers
that pick among the current candidates, so a failing example replays as a plain test (tests/model/).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Coroutine
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import httpx
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from isthmus.domain.models import Actor as DomainActor
from tests.testlib.model_state import MChannel, Model, MPost, settle
from tests.testlib.model_world import NAMES, Actor, NodeConfig, World, new_world

T = TypeVar("T")
STATS: Counter[str] = Counter()  # accepted/refused operations over a whole run (printed by -s runs)
PICK = st.integers(0, 1000)
EMOJIS = ["wave", "tada", "eyes"]
FILE_SIZES = [0, 0, 500, 5_000, 50_000]  # 0: no file; limits are 2 kB, 20 kB or 100 MB per server
PRIORITIES = ["", "", "important", "urgent"]  # "": a standard post


def _pick(items: list[T], i: int) -> T | None:
    return items[i % len(items)] if items else None


class SyncMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = Path(tempfile.mkdtemp(prefix="isthmus-model-"))
        self.world: World | None = None
        self.model = Model()
        self.counter = 0
        self.errored = False
        self.why = ""  # the first failure, for the progress file
        # The steps as they ran, for the progress file: a failure that depends on timing may not replay, and then
        # hypothesis prints no steps at all (it reports FlakyStrategyDefinition instead).
        self.steps: list[str] = []

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        self._note_step(sys._getframe(1))
        try:
            return self.loop.run_until_complete(coro)
        except BaseException as err:
            self.errored = True  # for the progress line: a step failed (hypothesis still runs teardown)
            self.why = self.why or f"{type(err).__name__}: {err}"
            raise

    def _note_step(self, frame: FrameType) -> None:
        """The rule calling ``run``, with its plain local values (its arguments and the names it picked)."""
        name = frame.f_code.co_name
        if name == "teardown":
            return
        plain = {k: v for k, v in frame.f_locals.items() if k != "self" and isinstance(v, int | str | list | tuple)}
        self.steps.append(f"{name}({', '.join(f'{k}={v!r}'[:200] for k, v in plain.items())})")

    @property
    def w(self) -> World:
        assert self.world is not None
        return self.world

    # --- setup: servers, links, channels --------------------------------------------------------------

    @initialize(n=st.integers(3, 5), extra=st.integers(0, 1023), configs=st.lists(st.integers(0, 63), min_size=5,
                max_size=5), chans=st.lists(st.tuples(PICK, st.integers(0, 15)), min_size=1, max_size=3))
    def init(self, n: int, extra: int, configs: list[int], chans: list[tuple[int, int]]) -> None:
        # A chain keeps every server reachable; the extra bits add links up to a full mesh.
        edges = [(i, i + 1) for i in range(n - 1)]
        pairs = [(i, j) for i in range(n) for j in range(i + 2, n)]
        edges += [p for k, p in enumerate(pairs) if extra >> k & 1]
        self.world = self.run(new_world(self.tmp, [NodeConfig.from_bits(b) for b in configs[:n]], edges))
        for home_pick, mask in chans:
            self.run(self._new_channel(NAMES[home_pick % n], mask))
        self.run(settle(self.w, self.model))

    async def _new_channel(self, home: str, mask: int) -> None:
        admin = self._admin(home)
        self.counter += 1
        node = self.w.node(home)
        r = await self.w.call(admin, "POST", "/api/v4/channels", json={
            "team_id": node.team_id, "name": f"room{self.counter}", "display_name": f"Room {self.counter}",
            "type": "O"})
        self._ok(r, "create channel")
        ch = MChannel(r.json()["id"], home, members={home: {admin.user_id}})
        self.model.channels[ch.id] = ch
        for k, peer in enumerate(self.w.peers(home)):
            if mask >> k & 1 or k == 0:
                await self._invite(ch, peer)

    # --- helpers --------------------------------------------------------------------------------------

    def _admin(self, node: str) -> Actor:
        return next(a for a in self.w.actors if a.node == node and a.admin)

    def _ok(self, r: httpx.Response, what: str) -> bool:
        """True when accepted; a 5xx is always a failure (every refusal must be an AppError 4xx; 501 is
        Mattermost's answer to an upload with attachments off)."""
        if r.status_code >= 500 and not (r.status_code == 501 and r.json().get("id", "").endswith(".disabled."
                                                                                              "app_error")):
            self.model.fail(f"{what}: {r.status_code} {r.text[:300]}")
        STATS[f"{what} {'ok' if r.status_code < 300 else r.status_code}"] += 1
        return r.status_code < 300

    def _live_channels(self) -> list[MChannel]:
        return [c for c in self.model.channels.values() if not c.deleted]

    def _actors(self, i: int, *, admin: bool | None = None) -> Actor | None:
        return _pick([a for a in self.w.actors if a.active and (admin is None or a.admin == admin)], i)

    async def _ensure_member(self, ch: MChannel, actor: Actor) -> bool:
        members = ch.members.setdefault(actor.node, set())
        if actor.user_id in members:
            return True
        r = await self.w.call(self._admin(actor.node), "POST", f"/api/v4/channels/{ch.id}/members",
                              json={"user_id": actor.user_id})
        if self._ok(r, "add member"):
            members.add(actor.user_id)
            return True
        return False

    def _posts_in(self, ch: MChannel) -> list[MPost]:
        return [p for p in self.model.posts.values() if p.channel == ch.id]

    def _uncertain(self, ch: MChannel, node: str) -> None:
        """``node`` stops receiving ``ch``: what its people wrote may or may not have reached the home."""
        ch.epochs[node] = ch.epochs.get(node, 0) + 1
        for p in self._posts_in(ch):
            if any(self._node_of(u) == node for u, _ in p.reactions):
                p.reactions_known = False

    async def _unconfirmed_re_invites(self, ch: MChannel) -> set[str]:
        from isthmus.domain.sharing.shares import get_channel_remote

        out = set()
        for peer in ch.remotes & set(ch.epochs):
            row = await get_channel_remote(self.w.node(ch.home).server.domain, ch.id,
                                           self.w.remote_ids[(ch.home, peer)])
            if row is None or not row.is_invite_confirmed:
                out.add(peer)
        return out

    def _node_of(self, user_id: str) -> str:
        return next(a.node for a in self.w.actors if a.user_id == user_id)

    async def _invite(self, ch: MChannel, peer: str) -> None:
        rid = self.w.remote_ids[(ch.home, peer)]
        r = await self.w.call(self._admin(ch.home), "POST", f"/api/v4/remotecluster/{rid}/channels/{ch.id}/invite")
        if self._ok(r, f"invite {peer}"):
            ch.first_invited.setdefault(peer, len(self.model.posts))
            ch.remotes.add(peer)
            ch.archived_on.discard(peer)
            # A re-invite replays every post changed since the peer stopped receiving, its own included
            # (sync/README.md "Re-invite": upserts make them no-ops there); not an echo.
            for p in self._posts_in(ch):
                p.touched_elsewhere |= p.node == peer and peer in ch.epochs

    # --- content --------------------------------------------------------------------------------------

    @rule(who=PICK, where=PICK, reply=PICK, size=st.sampled_from(FILE_SIZES), priority=st.sampled_from(PRIORITIES))
    def post(self, who: int, where: int, reply: int, size: int, priority: str = "") -> None:
        self.run(self._post(who, where, reply, size, priority))

    async def _post(self, who: int, where: int, reply: int, size: int, priority: str) -> None:
        ch = _pick(self._live_channels(), where)
        actor = _pick(self._acting(ch), who) if ch else None
        if actor is None or ch is None or not await self._ensure_member(ch, actor):
            return
        self.counter += 1
        root = _pick([p for p in self._posts_in(ch) if not p.root_id and not p.deleted], reply) \
            if reply % 3 == 0 else None
        body: dict[str, Any] = {"channel_id": ch.id, "message": f"m{self.counter}",
                                "root_id": root.id if root else ""}
        if priority and root is None:  # a root asking for acknowledgements (the ack rule acts on these)
            body["metadata"] = {"priority": {"priority": priority, "requested_ack": True}}
        if size:
            r = await self.w.call(actor, "POST", "/api/v4/files", data={"channel_id": ch.id},
                                  files={"files": (f"f{self.counter}.bin", b"x" * size, "application/octet-stream")})
            if not self._ok(r, "upload"):
                return  # this server's own limits (size, attachments off)
            body["file_ids"] = [r.json()["file_infos"][0]["id"]]
        r = await self.w.call(actor, "POST", "/api/v4/posts", json=body)
        if self._ok(r, "post"):
            self.model.posts[r.json()["id"]] = MPost(
                r.json()["id"], ch.id, actor.node, actor.user_id, body["root_id"], body["message"], size,
                epoch=ch.epochs.get(actor.node, 0), order=len(self.model.posts), ack_requested="metadata" in body)
            self.model.posted_in.setdefault(actor.user_id, set()).add(ch.id)

    def _target(self, i: int) -> MPost | None:
        return _pick([p for p in self.model.posts.values() if not p.deleted and not self.model.channels[
            p.channel].deleted], i)

    def _acting(self, ch: MChannel, *, author: str = "") -> list[Actor]:
        """People on the servers sharing ``ch`` (a copy that stopped receiving is its own business); with
        ``author``: that author and every admin (whose changes the ownership rule allows or refuses)."""
        return [a for a in self.w.actors if a.active and a.node in ch.sharing()
                and (not author or a.admin or a.user_id == author)]

    @rule(who=PICK, which=PICK)
    def edit(self, who: int, which: int) -> None:
        """By the author, an admin of the author's server, or an admin elsewhere (must be refused)."""
        p = self._target(which)
        actor = _pick(self._acting(self.model.channels[p.channel], author=p.author), who) if p else None
        if p is None or actor is None:
            return
        self.counter += 1
        text = f"e{self.counter}"
        r = self.run(self.w.call(actor, "PUT", f"/api/v4/posts/{p.id}/patch", json={"message": text}))
        if self._ok(r, "edit"):
            if actor.node != p.node:
                self.model.fail(f"ownership: {actor.username} on {actor.node} edited post {p.id} written on "
                                f"{p.node}")
            p.message = text

    @rule(who=PICK, which=PICK)
    def delete(self, who: int, which: int) -> None:
        """By the author's server, or moderation by the channel's home; anyone else must be refused."""
        p = self._target(which)
        actor = _pick(self._acting(self.model.channels[p.channel], author=p.author), who) if p else None
        if p is None or actor is None:
            return
        r = self.run(self.w.call(actor, "DELETE", f"/api/v4/posts/{p.id}"))
        if self._ok(r, "delete"):
            ch = self.model.channels[p.channel]
            if actor.node not in (p.node, ch.home):
                self.model.fail(f"ownership: {actor.username} on {actor.node} deleted post {p.id} written on "
                                f"{p.node} (home {ch.home})")
            p.deleted = True
            p.touched_elsewhere |= actor.node != p.node
            for reply in self._posts_in(ch):
                if reply.root_id == p.id:  # Mattermost deletes the thread with its root
                    reply.deleted = True
                    reply.touched_elsewhere = True

    @rule(who=PICK, which=PICK, emoji=st.sampled_from(EMOJIS))
    def react(self, who: int, which: int, emoji: str) -> None:
        p = self._target(which)
        actor = _pick(self._acting(self.model.channels[p.channel]), who) if p else None
        if p is None or actor is None:
            return
        if not self.run(self._ensure_member(self.model.channels[p.channel], actor)):
            return
        r = self.run(self.w.call(actor, "POST", "/api/v4/reactions", json={
            "user_id": actor.user_id, "post_id": p.id, "emoji_name": emoji}))
        if self._ok(r, "react"):
            p.reactions.add((actor.user_id, emoji))
            p.touched_elsewhere |= actor.node != p.node

    @rule(who=PICK, which=PICK)
    def unreact(self, who: int, which: int) -> None:
        """The reactor itself, or an admin of any server (the home's admin moderates)."""
        p = _pick([p for p in self.model.posts.values() if p.reactions and not p.deleted
                   and not self.model.channels[p.channel].deleted], which)
        if p is None:
            return
        user_id, emoji = sorted(p.reactions)[who % len(p.reactions)]
        reactor = next(a for a in self.w.actors if a.user_id == user_id)
        actor = reactor if who % 2 == 0 or not reactor.active else self._actors(who // 2, admin=True)
        if actor is None or not actor.active or actor.node not in self.model.channels[p.channel].sharing():
            return
        seen = self.run(self.w.call(actor, "GET", f"/api/v4/posts/{p.id}/reactions"))
        visible = seen.status_code == 200 and any(
            x["user_id"] == user_id and x["emoji_name"] == emoji for x in seen.json() or [])
        r = self.run(self.w.call(actor, "DELETE", f"/api/v4/users/{user_id}/posts/{p.id}/reactions/{emoji}"))
        if self._ok(r, "unreact"):
            home = self.model.channels[p.channel].home
            if not visible:
                # Removing, on a server the reaction has not reached yet, what no one there can see: a no-op there,
                # and the reaction arrives after it (Mattermost alike). Which wins depends on that race.
                p.reactions_known = False
            elif actor.node in (reactor.node, home):
                p.reactions.discard((user_id, emoji))
            else:
                p.reactions_known = False  # which of the two wins is policy, not convergence
            p.touched_elsewhere |= actor.node != p.node

    @rule(who=PICK, which=PICK, on=st.booleans())
    def ack(self, who: int, which: int, on: bool) -> None:
        """Anyone in the channel on any server sharing it acknowledges (or takes back) a post asking for it; the
        oracle then compares who acknowledged, and when, on every server."""
        p = _pick([p for p in self.model.posts.values() if p.ack_requested and not p.deleted
                   and not self.model.channels[p.channel].deleted], which)
        actor = _pick(self._acting(self.model.channels[p.channel]), who) if p else None
        if p is None or actor is None:
            return
        if not self.run(self._ensure_member(self.model.channels[p.channel], actor)):
            return
        r = self.run(self.w.call(actor, "POST" if on else "DELETE",
                                 f"/api/v4/users/{actor.user_id}/posts/{p.id}/ack"))
        if self._ok(r, "ack" if on else "unack"):
            p.touched_elsewhere |= actor.node != p.node

    @rule(who=PICK, which=PICK, pinned=st.booleans())
    def pin(self, who: int, which: int, pinned: bool) -> None:
        p = self._target(which)
        actor = _pick(self._acting(self.model.channels[p.channel]), who) if p else None
        if p is None or actor is None:
            return
        if not self.run(self._ensure_member(self.model.channels[p.channel], actor)):
            return
        r = self.run(self.w.call(actor, "POST", f"/api/v4/posts/{p.id}/{'pin' if pinned else 'unpin'}"))
        if self._ok(r, "pin"):
            p.touched_elsewhere |= actor.node != p.node

    # --- people ---------------------------------------------------------------------------------------

    @rule(who=PICK, where=PICK)
    def remove_member(self, who: int, where: int) -> None:
        actor, ch = self._actors(who, admin=False), _pick(self._live_channels(), where)
        if actor is None or ch is None or actor.user_id not in ch.members.get(actor.node, set()):
            return
        r = self.run(self.w.call(self._admin(actor.node), "DELETE", f"/api/v4/channels/{ch.id}/members/"
                                 f"{actor.user_id}"))
        if self._ok(r, "remove member"):
            ch.members[actor.node].discard(actor.user_id)

    @rule(who=PICK, status=st.sampled_from(["online", "away", "dnd", "offline"]))
    def status(self, who: int, status: str) -> None:
        actor = self._actors(who)
        if actor is not None:
            self._ok(self.run(self.w.call(actor, "PUT", f"/api/v4/users/{actor.user_id}/status",
                                          json={"user_id": actor.user_id, "status": status})), "status")

    @rule(who=PICK)
    def profile(self, who: int) -> None:
        actor = self._actors(who, admin=False)
        if actor is None:
            return
        self.counter += 1
        r = self.run(self.w.call(actor, "PUT", f"/api/v4/users/{actor.user_id}/patch",
                                 json={"nickname": f"nick{self.counter}"}))
        if self._ok(r, "profile"):
            actor.nickname = f"nick{self.counter}"

    @rule(who=PICK)
    def deactivate(self, who: int) -> None:
        actor = self._actors(who, admin=False)
        if actor is None:
            return
        r = self.run(self.w.call(self._admin(actor.node), "DELETE", f"/api/v4/users/{actor.user_id}"))
        if self._ok(r, "deactivate"):
            actor.active = False

    # --- sharing lifecycle ----------------------------------------------------------------------------

    @rule(where=PICK, peer=PICK)
    def invite(self, where: int, peer: int) -> None:
        ch = _pick(self._live_channels(), where)
        if ch is not None:
            candidate = _pick([p for p in self.w.peers(ch.home) if p not in ch.remotes], peer)
            if candidate is not None:
                self.run(self._invite(ch, candidate))

    @rule(where=PICK, peer=PICK)
    def uninvite(self, where: int, peer: int) -> None:
        ch = _pick(self._live_channels(), where)
        remote = _pick(sorted(ch.remotes), peer) if ch else None
        if ch is None or remote is None:
            return
        rid = self.w.remote_ids[(ch.home, remote)]
        r = self.run(self.w.call(self._admin(ch.home), "POST", f"/api/v4/remotecluster/{rid}/channels/{ch.id}/"
                                 "uninvite"))
        if self._ok(r, "uninvite"):
            ch.remotes.discard(remote)
            self._uncertain(ch, remote)

    @rule(where=PICK)
    def unshare(self, where: int) -> None:
        ch = _pick([c for c in self._live_channels() if c.remotes], where)
        if ch is None:
            return
        admin = self._admin(ch.home)
        self.run(self.w.node(ch.home).server.shared_channels.share.unshare(
            DomainActor(admin.user_id, "system_admin system_user"), ch.id))
        for remote in sorted(ch.remotes):
            self._uncertain(ch, remote)
        ch.remotes.clear()
        STATS["unshare"] += 1

    @rule(where=PICK)
    def delete_channel(self, where: int) -> None:
        ch = _pick(self._live_channels(), where)
        if ch is None or len(self._live_channels()) < 2:
            return
        r = self.run(self.w.call(self._admin(ch.home), "DELETE", f"/api/v4/channels/{ch.id}"))
        if self._ok(r, "delete channel"):
            # A server invited again after it stopped receiving, whose invite had not arrived yet: its copy may be
            # a channel of its own by then (told "no longer shared"), and the deletion's notice, finding no share,
            # is ignored there (only the home may delete, and without a share nothing says who the home is).
            ch.archived_on = {ch.home} | (ch.remotes - self.run(self._unconfirmed_re_invites(ch)))
            ch.deleted = True

    # --- faults ---------------------------------------------------------------------------------------

    @rule(pair=PICK)
    def cut_link(self, pair: int) -> None:
        link = _pick(sorted(self.w.links, key=sorted), pair)
        if link is not None:
            self.w.cut.add(link)
            STATS["cut link"] += 1

    @rule(pair=PICK)
    def heal_link(self, pair: int) -> None:
        link = _pick(sorted(self.w.cut, key=sorted), pair)
        if link is not None:
            self.w.cut.discard(link)

    @rule(node=PICK, count=st.integers(1, 3))
    def refuse(self, node: int, count: int) -> None:
        """The server answers its next ``count`` server-to-server requests with 503."""
        name = _pick(sorted(self.w.cluster.nodes), node)
        assert name is not None
        self.w.cluster.net.fail_next[f"{name}.test"] = count
        STATS["refuse"] += 1

    @rule(node=PICK)
    def restart(self, node: int) -> None:
        name = _pick(sorted(self.w.cluster.nodes), node)
        assert name is not None
        self.run(self.w.restart(name))
        STATS["restart"] += 1

    @rule()
    def heal_all_and_settle(self) -> None:
        self.run(settle(self.w, self.model))
        STATS["settle"] += 1

    def teardown(self) -> None:
        outcome = "fail"
        try:
            if self.world is not None:
                self.run(settle(self.w, self.model))
            outcome = "fail" if self.model.failures or self.errored else "pass" if self.world is not None else \
                "discarded"  # hypothesis dropped the example while drawing set-up's arguments (init never ran)
        finally:
            _progress(outcome, len(self.model.posts), "; ".join(self.model.failures) or self.why, self.steps)
            try:
                if self.world is not None:
                    self.run(self.w.cluster.close())
            finally:
                self.loop.close()
                shutil.rmtree(self.tmp, ignore_errors=True)


def _progress(outcome: str, posts: int, why: str, steps: list[str]) -> None:
    """``ISTHMUS_MODEL_PROGRESS=FILE``: a line per finished example, so a deep run stopped at a time limit still
    says how many examples passed (hypothesis reports only at the end)."""
    path = os.environ.get("ISTHMUS_MODEL_PROGRESS")
    if path:
        with open(path, "a") as f:
            f.write(f"{time.strftime('%H:%M:%S')} {outcome} posts={posts} ops={sum(STATS.values())}\n")
            if outcome == "fail":  # the details now: hypothesis prints them only when the whole run ends
                f.write("    why: " + " ".join(why.split())[:4000] + "\n")
                f.write("".join(f"    step: {step}\n" for step in steps))
