"""The expected state of the model-based sync test, and its invariants ("heal all and settle").

The model knows which servers should hold each channel, which posts were accepted where and by whom,
the last content their author's server gave them, deletions, and the reactions of people whose every
add/remove went through. After healing every link and waiting, it checks:

* the convergence oracle (``domain/snapshot.py``) agrees on every server sharing a channel (files left out
  for a post whose file some of them legitimately refuse: too big, attachments off);
* every accepted post exists exactly once on each of them (unless its server stopped sharing before it could
  have sent it, or it was accepted before that server's first invite: history is not synced), with its
  author's last content, deleted where a delete went through;
* nothing is echoed: a post that only its own server ever touched never travels back to that server;
* ownership: a content change from a server other than the author's was refused (checked when it is made);
* profiles and deactivations reached every server sharing a channel where the user posted.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

from isthmus.domain.snapshot import channel_snapshot, diff_snapshots
from tests.testlib.model_world import World
from tests.testlib.sharing import has_channel

SETTLE_S = float(os.environ.get("ISTHMUS_MODEL_SETTLE_S", "30"))  # per channel, once healed


@dataclass
class MPost:
    id: str
    channel: str
    node: str            # the author's server
    author: str          # user id
    root_id: str
    message: str
    file_size: int = 0   # 0: no file
    deleted: bool = False
    touched_elsewhere: bool = False  # pinned/reacted/deleted from another server: may travel back legitimately
    reactions: set[tuple[str, str]] = field(default_factory=set)
    reactions_known: bool = True     # False once a removal by someone else went through (outcome is policy)
    epoch: int = 0       # the author's server's share epoch in the channel when it posted
    order: int = 0       # how many posts the model had accepted before this one (orders posts and invites)
    ack_requested: bool = False


@dataclass
class MChannel:
    id: str
    home: str
    remotes: set[str] = field(default_factory=set)      # live (invited) remotes
    epochs: dict[str, int] = field(default_factory=dict)  # remote -> times it stopped receiving
    archived_on: set[str] = field(default_factory=set)   # servers that must show it archived
    deleted: bool = False
    members: dict[str, set[str]] = field(default_factory=dict)  # node -> local user ids that are members
    # remote -> the model's post count at its first invite: history from before it is not synced (shares.py
    # "Cursor rule", as in Mattermost), so earlier posts reach it only when changed later, or by a race
    first_invited: dict[str, int] = field(default_factory=dict)

    def sharing(self) -> list[str]:
        return sorted({self.home} | self.remotes) if not self.deleted else []


@dataclass
class Model:
    channels: dict[str, MChannel] = field(default_factory=dict)
    posts: dict[str, MPost] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    posted_in: dict[str, set[str]] = field(default_factory=dict)  # user id -> channels it posted in

    def fail(self, text: str) -> None:
        self.failures.append(text)
        raise AssertionError(text)


def _strip(snap: dict[str, Any], no_files: set[str], uncertain: set[str]) -> dict[str, Any]:
    out = []
    for p in snap["posts"]:
        if p["id"] in uncertain:
            continue
        if p["id"] in no_files:
            p = {k: v for k, v in p.items() if k not in ("files", "file_ids")}
        if uncertain:  # a root's reply count may include an uncertain reply
            p = {k: v for k, v in p.items() if k != "reply_count"}
        out.append(p)
    return {**snap, "posts": out}


def uncertain_posts(model: Model, ch: MChannel) -> set[str]:
    """Posts written on a remote that stopped receiving the channel after they were written: whether they
    reached the home before it stopped is a race the model does not decide (nor do replies to them)."""
    out = {p.id for p in model.posts.values() if p.channel == ch.id and p.node != ch.home
           and ch.epochs.get(p.node, 0) != p.epoch}
    out |= {p.id for p in model.posts.values() if p.root_id in out}
    return out


def before_invite(model: Model, ch: MChannel, node: str) -> set[str]:
    """Posts of ``ch`` accepted before ``node`` was first invited to it. The home syncs only what changes
    after an invite (its cursor starts at the end of the outbox), so such a post reaches ``node`` only if
    something touches it later (delete, edit, pin, reply) or if it was written on a third server and reached
    the home after the invite (a race the model does not decide): it may or may not be there."""
    start = ch.first_invited.get(node, 0) if node != ch.home else 0
    return {p.id for p in model.posts.values() if p.channel == ch.id and p.order < start}


def refused_files(world: World, model: Model, ch: MChannel) -> set[str]:
    """Posts with a file that some server sharing the channel does not take (size or attachments off)."""
    configs = [world.configs[n] for n in ch.sharing()]
    limit = min(c.max_file_size for c in configs)
    off = not all(c.attachments for c in configs)
    return {p.id for p in model.posts.values() if p.channel == ch.id and p.file_size and
            (off or p.file_size > limit)}


async def settle(world: World, model: Model) -> None:
    """Heal every link, then wait until each channel converged on every server sharing it and check it."""
    world.cut.clear()
    world.cluster.net.fail_next.clear()
    for ch in model.channels.values():
        if ch.deleted:
            for name in sorted(ch.archived_on):
                await _wait(lambda n=name, c=ch.id: _archived(world, n, c), f"{ch.id} archived on {name}")
            continue
        for name in sorted(ch.remotes):
            await _wait(lambda n=name, c=ch.id: has_channel(world.node(n), c), f"{ch.id} reached {name}")
        await _converged(world, model, ch)
    await _check_profiles(world, model)
    _check_no_echo(world, model)


async def _wait(predicate: Any, what: str, within: float = SETTLE_S) -> None:
    deadline = time.monotonic() + within
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not settled: {what}")
        await asyncio.sleep(0.1)


async def _archived(world: World, name: str, channel_id: str) -> bool:
    r = await world.node(name).http.get(f"/api/v4/channels/{channel_id}")
    return r.status_code == 404 or (r.status_code == 200 and r.json()["delete_at"] > 0)


async def _converged(world: World, model: Model, ch: MChannel) -> None:
    names = ch.sharing()
    members = all(world.configs[n].member_sync for n in names)
    no_files, uncertain = refused_files(world, model, ch), uncertain_posts(model, ch)
    deadline = time.monotonic() + SETTLE_S
    while True:
        snaps = {n: _strip(await channel_snapshot(world.node(n).server.domain, ch.id), no_files, uncertain)
                 for n in names}
        first = snaps[names[0]]
        late = {n: before_invite(model, ch, n) for n in names}
        diffs = {n: diff_snapshots(_strip(first, set(), late[names[0]] | late[n]),
                                   _strip(snaps[n], set(), late[names[0]] | late[n]), members=members)
                 for n in names[1:]}
        missing = {n: _expected_missing(model, ch, n, snaps[n], uncertain | late[n]) for n in names}
        content = [problem for n in names for problem in _content_problems(model, n, snaps[n], late[n])]
        if not any(diffs.values()) and not any(missing.values()) and not content:
            break
        if time.monotonic() > deadline:
            if not any(diffs.values()) and not any(missing.values()):
                model.fail(content[0])
            detail = {"vs " + names[0]: {n: d for n, d in diffs.items() if d},
                      "model": {n: m for n, m in missing.items() if m}}
            raise AssertionError(f"channel {ch.id} (home {ch.home}) not converged on {names}: "
                                 f"{json.dumps(detail, indent=1)[:3000]}")
        await asyncio.sleep(0.2)


def _expected_missing(model: Model, ch: MChannel, node: str, snap: dict[str, Any], uncertain: set[str]) -> list[str]:
    ids = [p["id"] for p in snap["posts"]]
    out = [f"post {pid} {ids.count(pid)} times" for pid in set(ids) if ids.count(pid) > 1]
    have = set(ids)
    for p in model.posts.values():
        if p.channel == ch.id and p.id not in have and p.id not in uncertain:
            out.append(f"post {p.id} by {p.node} missing")
    return out


def _content_problems(model: Model, node: str, snap: dict[str, Any], late: set[str]) -> list[str]:
    """``late``: posts from before ``node``'s first invite; one that reached it since came with its current
    content, but without the reactions made before the invite (history is not synced). A late post is left out
    of the equality check, so its content is waited for here (a change may still be on its way)."""
    out: list[str] = []
    for item in snap["posts"]:
        p = model.posts.get(item["id"])
        if p is None:
            continue
        if p.deleted and not item["deleted"]:
            out.append(f"post {p.id} was deleted but is live on {node}")
        if item["deleted"]:
            continue
        if item["message"] != p.message:
            out.append(f"post {p.id} on {node} says {item['message']!r}, its author's server last wrote "
                       f"{p.message!r}")
        if p.reactions_known and p.id not in late and {tuple(r) for r in item["reactions"]} != p.reactions:
            out.append(f"post {p.id} on {node} has reactions {item['reactions']}, expected {sorted(p.reactions)}")
    return out


async def _check_profiles(world: World, model: Model) -> None:
    """Profiles and deactivations reach every server that saw the user post; a change may still be one send
    behind the posts (a follow-up batch), so this waits like the channel checks do."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        problems = await _profile_problems(world, model)
        if not problems:
            return
        if time.monotonic() > deadline:
            model.fail(problems[0])
        await asyncio.sleep(0.1)


async def _profile_problems(world: World, model: Model) -> list[str]:
    out: list[str] = []
    for actor in world.actors:
        if actor.admin:
            continue
        viewers: set[str] = set()
        for channel_id in model.posted_in.get(actor.user_id, set()):
            ch = model.channels[channel_id]
            if actor.node in ch.sharing():
                viewers.update(n for n in ch.sharing() if n != actor.node)
        for name in sorted(viewers):
            r = await world.node(name).http.get(f"/api/v4/users/{actor.user_id}")
            if r.status_code != 200:
                continue  # never sent there (its posts may all have been refused or deleted before)
            body = r.json()
            if body["nickname"] != actor.nickname:
                out.append(f"{actor.username}'s nickname on {name} is {body['nickname']!r}, not {actor.nickname!r}")
            if (body["delete_at"] > 0) == actor.active:
                out.append(f"{actor.username} is {'active' if actor.active else 'deactivated'} on "
                           f"{actor.node} but not on {name}")
    return out


def _check_no_echo(world: World, model: Model) -> None:
    for req in world.cluster.net.log:
        if not req.url.path.endswith("/remotecluster/msg"):
            continue
        try:
            msg = json.loads(req.content)["msg"]
        except (ValueError, KeyError, TypeError):
            continue
        if msg.get("topic") != "sharedchannel_sync" or not isinstance(msg.get("payload"), dict):
            continue
        dst = req.url.host.removesuffix(".test")
        for item in msg["payload"].get("posts") or []:
            p = model.posts.get(item.get("id", ""))
            if p is not None and p.node == dst and not p.touched_elsewhere:
                model.fail(f"post {p.id} written on {dst} was sent back to {dst}")
