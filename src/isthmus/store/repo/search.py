"""Post and file search queries: full-text match (``store.search``) plus Mattermost's filters.

The channel scope is part of the query (before LIMIT), so a page is never short because hits in
channels the caller cannot read were dropped afterwards. Scope, as in Mattermost: channels the
user is a member of (in teams they still belong to, plus DMs/GMs), archived ones only on request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from isthmus.store.schema.channels import channel_members, channels
from isthmus.store.schema.files import file_infos
from isthmus.store.schema.posts import posts
from isthmus.store.schema.teams import team_members
from isthmus.store.schema.users import users
from isthmus.store.search import SearchIndex, TextQuery


@dataclass
class SearchFilter:
    user_id: str
    team_id: str = ""  # "" searches every team of the user
    text: TextQuery = field(default_factory=TextQuery)
    hashtags: list[str] = field(default_factory=list)  # lowercase, with '#'
    excluded_hashtags: list[str] = field(default_factory=list)
    from_usernames: list[str] = field(default_factory=list)
    excluded_usernames: list[str] = field(default_factory=list)
    in_channel_names: list[str] = field(default_factory=list)
    excluded_channel_names: list[str] = field(default_factory=list)
    # [start, end) windows in ms; "excluded" windows are removed from the results.
    created_after: int | None = None
    created_before: int | None = None
    excluded_windows: list[tuple[int, int]] = field(default_factory=list)
    extensions: list[str] = field(default_factory=list)
    excluded_extensions: list[str] = field(default_factory=list)
    include_deleted_channels: bool = False


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def channel_scope(f: SearchFilter) -> Select[Any]:
    q = (select(channels.c.id).join(channel_members, channel_members.c.channel_id == channels.c.id)
         .where(channel_members.c.user_id == f.user_id))
    live_teams = select(team_members.c.team_id).where(and_(team_members.c.user_id == f.user_id,
                                                           team_members.c.delete_at == 0))
    q = q.where(or_(channels.c.team_id == "", channels.c.team_id.in_(live_teams)))
    if f.team_id:
        q = q.where(or_(channels.c.team_id == f.team_id, channels.c.team_id == ""))
    if not f.include_deleted_channels:
        q = q.where(channels.c.delete_at == 0)
    if f.in_channel_names:
        q = q.where(channels.c.name.in_(f.in_channel_names))
    if f.excluded_channel_names:
        q = q.where(channels.c.name.not_in(f.excluded_channel_names))
    return q


def _user_ids(names: list[str]) -> Select[Any]:
    return select(users.c.id).where(users.c.username.in_(names))


def _time_filters(column: Any, f: SearchFilter) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if f.created_after is not None:
        out.append(column >= f.created_after)
    if f.created_before is not None:
        out.append(column < f.created_before)
    for start, end in f.excluded_windows:
        out.append(or_(column < start, column >= end))
    return out


def _hashtag_match(tag: str) -> ColumnElement[bool]:
    padded = func.lower(" " + posts.c.hashtags + " ")
    return padded.like(f"% {_like_escape(tag)} %", escape="\\")


async def search_posts(conn: AsyncConnection, index: SearchIndex, f: SearchFilter, *, offset: int,
                       limit: int) -> list[dict[str, Any]]:
    q = select(posts).where(posts.c.channel_id.in_(channel_scope(f)), posts.c.delete_at == 0,
                            not_(posts.c.type.like("system\\_%", escape="\\")))
    positive: list[ColumnElement[bool]] = []
    if f.text.terms:
        positive.append(index.matches(TextQuery(f.text.terms, (), f.text.any_term)))
    positive += [_hashtag_match(t) for t in f.hashtags]
    if positive:
        q = q.where(or_(*positive) if f.text.any_term else and_(*positive))
    if f.text.excluded:
        q = q.where(index.matches(TextQuery((), f.text.excluded)))
    for tag in f.excluded_hashtags:
        q = q.where(not_(_hashtag_match(tag)))
    if f.from_usernames:
        q = q.where(posts.c.user_id.in_(_user_ids(f.from_usernames)))
    if f.excluded_usernames:
        q = q.where(posts.c.user_id.not_in(_user_ids(f.excluded_usernames)))
    for cond in _time_filters(posts.c.create_at, f):
        q = q.where(cond)
    q = q.order_by(posts.c.create_at.desc(), posts.c.id.desc()).offset(offset).limit(limit)
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def search_files(conn: AsyncConnection, f: SearchFilter, words: list[str], *, offset: int,
                       limit: int) -> list[dict[str, Any]]:
    """Attached, live files in readable channels whose name contains every word (any, for OR)."""
    q = select(file_infos).where(file_infos.c.channel_id.in_(channel_scope(f)), file_infos.c.post_id != "",
                                 file_infos.c.delete_at == 0)
    name = func.lower(file_infos.c.name)
    conds = [name.like(f"%{_like_escape(w)}%", escape="\\") for w in words]
    if conds:
        q = q.where(or_(*conds) if f.text.any_term else and_(*conds))
    if f.extensions:
        q = q.where(file_infos.c.extension.in_(f.extensions))
    if f.excluded_extensions:
        q = q.where(file_infos.c.extension.not_in(f.excluded_extensions))
    if f.from_usernames:
        q = q.where(file_infos.c.creator_id.in_(_user_ids(f.from_usernames)))
    if f.excluded_usernames:
        q = q.where(file_infos.c.creator_id.not_in(_user_ids(f.excluded_usernames)))
    for cond in _time_filters(file_infos.c.create_at, f):
        q = q.where(cond)
    q = q.order_by(file_infos.c.create_at.desc(), file_infos.c.id.desc()).offset(offset).limit(limit)
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]
