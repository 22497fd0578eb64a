"""Post and file search with Mattermost's term syntax (``model/search_params.go``).

Terms: plain words are AND-ed (OR-ed with ``is_or_search``), ``"quoted phrases"`` match in order,
``-word`` / ``-"phrase"`` exclude, a trailing ``*`` matches a prefix, ``#hashtags`` match the
post's hashtags. Flags: ``from:user``, ``in:channel`` (also ``channel:``; ``@user`` names the DM
with that user), ``on:/before:/after:YYYY-MM-DD`` (days in the caller's ``time_zone_offset``),
``ext:`` for files, each negatable with a leading ``-``. A flag with an empty value takes the next
word. Results come only from channels the caller is a member of (Mattermost's rule; public
channels they have not joined are not searched), never deleted posts or system messages.

Unlike Mattermost, an unparseable date is a 400 rather than silently ignored: a search that
quietly drops a filter returns wrong results with no hint why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from isthmus.core.errors import forbidden, invalid
from isthmus.domain.access import get_team_row, team_permissions
from isthmus.domain.context import Domain
from isthmus.domain.files import infos_for_posts
from isthmus.domain.models import Actor, FileInfo, Post
from isthmus.domain.posts import attach_reactions
from isthmus.domain.shapes import file_info_json, post_json
from isthmus.store.repo import search as repo
from isthmus.store.repo import users as users_repo
from isthmus.store.search import TextQuery, TextTerm, search_index_for

MAX_TERMS_LEN = 1000
DEFAULT_PER_PAGE = 60
MAX_PER_PAGE = 200
MAX_TZ_OFFSET = 14 * 3600
_FAR_FUTURE = 1 << 62
_FLAGS = ("from", "channel", "in", "before", "after", "on", "ext")
_TOKEN = re.compile(r"[^\W_]+")
_HASHTAG = re.compile(r"^#[^\W\d_][\w.\-]*[^\W_]$")
_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


@dataclass
class ParsedTerms:
    words: list[tuple[str, bool]] = field(default_factory=list)  # (word, excluded)
    flags: list[tuple[str, str, bool]] = field(default_factory=list)  # (name, value, excluded)


def split_words(text: str) -> list[str]:
    """Whitespace split that keeps ``"quoted phrases"`` (and ``-"phrases"``) whole."""
    words: list[str] = []
    in_quote, start = False, 0
    for i, ch in enumerate(text):
        if ch != '"':
            continue
        if in_quote:
            words.append(text[start:i + 1])
            in_quote, start = False, i + 1
        else:
            nxt = i - 1 if i > 0 and text[i - 1] == "-" else i
            words.extend(text[start:nxt].split())
            in_quote, start = True, nxt
    words.extend(text[start:].split())
    return words


def _trim(word: str) -> str:
    """Drop surrounding punctuation, keeping a leading ``#``/``"`` and a trailing ``*``/``"``."""
    i, j = 0, len(word)
    while i < j and not (word[i].isalnum() or word[i] in '#"'):
        i += 1
    while j > i and not (word[j - 1].isalnum() or word[j - 1] in '*"'):
        j -= 1
    out = word[i:j]
    return "#" + out.lstrip("#") if out.startswith("##") else out


def parse_terms(text: str) -> ParsedTerms:
    parsed = ParsedTerms()
    words = split_words(text)
    skip = False
    for i, word in enumerate(words):
        if skip:
            skip = False
            continue
        name, colon, value = word.partition(":")
        excluded = name.startswith("-")
        flag = name[1:].lower() if excluded else name.lower()
        if colon and flag in _FLAGS:
            if value:
                parsed.flags.append((flag, value, excluded))
                continue
            if i + 1 < len(words):
                parsed.flags.append((flag, words[i + 1], excluded))
                skip = True
                continue
        trimmed = _trim(word)
        if trimmed:
            parsed.words.append((trimmed, word.startswith("-")))
    return parsed


def text_term(word: str) -> TextTerm | None:
    if len(word) > 1 and word.startswith('"') and word.endswith('"'):
        tokens = _TOKEN.findall(word[1:-1].lower())
        return TextTerm(tuple(tokens)) if tokens else None
    prefix = word.endswith("*")
    tokens = _TOKEN.findall(word.rstrip("*").lower())
    return TextTerm(tuple(tokens), prefix) if tokens else None


def _day_start_ms(value: str, offset_s: int, days: int = 0) -> int:
    m = _DATE.match(value)
    try:
        if m is None:
            raise ValueError(value)
        day = date(int(m.group(1)), int(m.group(2)), int(m.group(3))) + timedelta(days=days)
    except ValueError:
        raise invalid("api.post.search_posts.invalid_date.app_error",
                      f"Invalid date {value!r} in search terms; use YYYY-MM-DD.") from None
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return int(midnight.timestamp() * 1000) - offset_s * 1000


@dataclass
class SearchRequest:
    terms: str
    is_or_search: bool = False
    time_zone_offset: int = 0
    include_deleted_channels: bool = False
    page: int = 0
    per_page: int = DEFAULT_PER_PAGE


def check_request(body: dict[str, Any]) -> SearchRequest:
    """Validate a search body (JSON object or form fields already turned into a dict)."""
    terms = body.get("terms")
    if not isinstance(terms, str) or not terms.strip() or len(terms) > MAX_TERMS_LEN:
        raise invalid("api.post.search_posts.invalid_body.app_error",
                      f"Invalid or missing terms in request body (1 to {MAX_TERMS_LEN} characters).")
    req = SearchRequest(terms)
    for key in ("is_or_search", "include_deleted_channels"):
        value = body.get(key)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if value is not None and not isinstance(value, bool):
            raise invalid("api.context.invalid_body_param.app_error", f"Invalid {key} in request body.")
        setattr(req, key, bool(value))
    for key, lo, hi, default in (("time_zone_offset", -MAX_TZ_OFFSET, MAX_TZ_OFFSET, 0),
                                 ("page", 0, 10_000, 0), ("per_page", 0, 1_000_000, DEFAULT_PER_PAGE)):
        value = body.get(key)
        if isinstance(value, str) and re.fullmatch(r"-?\d{1,9}", value):
            value = int(value)
        if value is None:
            value = default
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise invalid("api.context.invalid_body_param.app_error", f"Invalid {key} in request body.")
        setattr(req, key, value)
    req.per_page = min(req.per_page or DEFAULT_PER_PAGE, MAX_PER_PAGE)
    return req


async def _build_filter(d: Domain, actor: Actor, team_id: str, req: SearchRequest) -> tuple[repo.SearchFilter, bool]:
    """The store filter plus whether anything at all was asked (an empty search finds nothing)."""
    parsed = parse_terms(req.terms)
    f = repo.SearchFilter(user_id=actor.user_id, team_id=team_id,
                          include_deleted_channels=req.include_deleted_channels)
    terms: list[TextTerm] = []
    excluded: list[TextTerm] = []
    for word, neg in parsed.words:
        if _HASHTAG.match(word):
            (f.excluded_hashtags if neg else f.hashtags).append(word.lower())
        elif (term := text_term(word)) is not None:
            (excluded if neg else terms).append(term)
    f.text = TextQuery(tuple(terms), tuple(excluded), req.is_or_search)
    tz = req.time_zone_offset
    for name, value, neg in parsed.flags:
        if name == "from":
            (f.excluded_usernames if neg else f.from_usernames).append(value.lstrip("@").lower())
        elif name in ("in", "channel"):
            (f.excluded_channel_names if neg else f.in_channel_names).append(await _channel_name(d, actor, value))
        elif name == "ext":
            (f.excluded_extensions if neg else f.extensions).append(value.lstrip(".").lower())
        else:
            start = _day_start_ms(value, tz, 1 if name == "after" else 0)
            window = {"on": (start, _day_start_ms(value, tz, 1)), "after": (start, _FAR_FUTURE),
                      "before": (0, start)}[name]
            if neg:
                f.excluded_windows.append(window)
            elif name == "before":
                f.created_before = start
            else:
                f.created_after = start
                if name == "on":
                    f.created_before = window[1]
    asked = bool(f.text or f.hashtags or f.excluded_hashtags or parsed.flags)
    return f, asked


async def _channel_name(d: Domain, actor: Actor, value: str) -> str:
    value = value.lstrip("~").lower()
    if value.startswith("@"):
        async with d.db.read() as conn:
            other = await users_repo.select_user_by(conn, username=value[1:])
        if other is not None:
            return "__".join(sorted((actor.user_id, other["id"])))
    return value


async def _check_team(d: Domain, actor: Actor, team_id: str) -> None:
    if not team_id:
        return
    async with d.db.read() as conn:
        await get_team_row(conn, team_id)
        if "view_team" not in await team_permissions(d, conn, actor, team_id):
            raise forbidden("view_team")


@dataclass
class PostSearchResults:
    posts: list[Post]
    files: dict[str, list[FileInfo]]
    matches: dict[str, list[str]]
    has_next: bool


async def search_posts(d: Domain, actor: Actor, team_id: str, req: SearchRequest) -> PostSearchResults:
    """``team_id`` "" searches all the caller's teams (plus DMs/GMs), as ``POST /posts/search``."""
    await _check_team(d, actor, team_id)
    f, asked = await _build_filter(d, actor, team_id, req)
    if not asked:
        return PostSearchResults([], {}, {}, False)
    index = search_index_for("sqlite" if d.db.is_sqlite else "postgresql")
    async with d.db.read() as conn:
        rows = await repo.search_posts(conn, index, f, offset=req.page * req.per_page, limit=req.per_page + 1)
        found = [Post(**r) for r in rows[:req.per_page]]
        files = await infos_for_posts(conn, [p.id for p in found if p.file_ids])
        await attach_reactions(conn, found)
    return PostSearchResults(found, files, {p.id: matched_words(p.message, f.text) for p in found},
                             len(rows) > req.per_page)


def _crude_stem(word: str) -> str:
    for suffix in ("ingly", "edly", "ing", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[:-len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]  # running → runn → run
    return word


def _same_word(word: str, term: str, prefix: bool) -> bool:
    if word == term or (prefix and word.startswith(term)):
        return True
    # Both backends stem English words; accept the usual inflections for highlighting.
    return not prefix and _crude_stem(word) == _crude_stem(term)


def matched_words(message: str, text: TextQuery) -> list[str]:
    """The words of ``message`` that the positive terms matched, for client-side highlighting."""
    out: list[str] = []
    words = [(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(message)]
    lowered = [w.lower() for w, _, _ in words]
    for term in text.terms:
        n = len(term.tokens)
        for i in range(len(words) - n + 1):
            last = n - 1
            if all(lowered[i + k] == term.tokens[k] for k in range(last)) and \
                    _same_word(lowered[i + last], term.tokens[last], term.prefix):
                hit = message[words[i][1]:words[i + last][2]]
                if hit not in out:
                    out.append(hit)
    return out


def post_results_json(res: PostSearchResults) -> dict[str, Any]:
    return {
        "order": [p.id for p in res.posts],
        "posts": {p.id: post_json(p, files=[file_info_json(fi) for fi in res.files.get(p.id, [])])
                  for p in res.posts},
        "next_post_id": "", "prev_post_id": "", "has_next": res.has_next, "first_inaccessible_post_time": 0,
        "matches": res.matches,
    }


async def search_files(d: Domain, actor: Actor, team_id: str, req: SearchRequest) -> list[FileInfo]:
    await _check_team(d, actor, team_id)
    f, asked = await _build_filter(d, actor, team_id, req)
    if not asked:
        return []
    words = [" ".join(t.tokens) for t in f.text.terms]
    async with d.db.read() as conn:
        rows = await repo.search_files(conn, f, words, offset=req.page * req.per_page, limit=req.per_page)
    return [FileInfo(**r) for r in rows]


def file_results_json(infos: list[FileInfo]) -> dict[str, Any]:
    return {"order": [fi.id for fi in infos], "file_infos": {fi.id: file_info_json(fi) for fi in infos},
            "next_file_info_id": "", "prev_file_info_id": "", "first_inaccessible_file_time": 0}
