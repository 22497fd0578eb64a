"""Message text rewriting for sync: mention transforms (§6.6) and permalinks (§6.7). Pure functions.

Unlike Mattermost's plain substring replacement (which turns ``@al`` inside ``@alice`` into garbage), a
mention is replaced only as a whole token: ``@name`` not followed by another username character.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

# A mention may carry a connection suffix (``@bob:beta``). Same leading rule as the domain's mention parser.
_MENTION_RE = re.compile(r"(?<![\w.@-])@([a-z0-9][a-z0-9._\-]*(?::[a-z0-9][a-z0-9._\-]*)?)", re.IGNORECASE)
_NAME_TAIL = r"(?![a-zA-Z0-9_\-:]|\.[a-zA-Z0-9_\-])"
_PERMALINK_OUT = re.compile(r"(https?://[A-Za-z0-9.\-]+(?::\d+)?(?:/[^\s/]+)*?)/([a-z0-9\-_]+)/pl/([a-z0-9]{26})\b")
_PERMALINK_IN = re.compile(r"https?://[A-Za-z0-9.\-]+(?::\d+)?(?:/[^\s/]+)*?/[a-z0-9\-_]+/plshared/([a-z0-9]{26})\b")
MAX_MENTIONS = 100


def mention_names(message: str) -> list[str]:
    """Candidate mention keys in order of appearance (lower-case); "@ann." also tries "ann"."""
    if "@" not in message:
        return []
    names: list[str] = []
    for match in _MENTION_RE.finditer(message):
        raw = match.group(1).lower()
        for name in (raw, raw.rstrip("._-")):
            if name and name not in names:
                names.append(name)
        if len(names) >= MAX_MENTIONS:
            break
    return names


def replace_mention(message: str, mention: str, replacement: str) -> str:
    """Replace ``@mention`` as a whole token (case-insensitive) by ``@replacement``."""
    pattern = re.compile(r"(?<![\w.@-])@" + re.escape(mention) + _NAME_TAIL, re.IGNORECASE)
    return pattern.sub(lambda _m: "@" + replacement, message)


def apply_mention_transforms(message: str, transforms: dict[str, str],
                             local_user: Callable[[str], tuple[str, bool] | None], remote_name: str) -> str:
    """Receiver side of §6.6. ``local_user(user_id)`` gives (local username, is_synthetic) or None."""
    for mention, user_id in transforms.items():
        if f"@{mention}".lower() not in message.lower():
            continue
        found = local_user(user_id)
        if found is not None:
            username, synthetic = found
            if ":" in mention or synthetic:
                message = replace_mention(message, mention, username)
        elif ":" not in mention:
            message = replace_mention(message, mention, f"{mention}:{remote_name}")
    return message


def permalinks_out(message: str, same_channel: Iterable[str]) -> str:
    """``…/<team>/pl/<id>`` → ``…/<team>/plshared/<id>`` for posts of the synced channel."""
    if "/pl/" not in message:
        return message
    ids = set(same_channel)
    return _PERMALINK_OUT.sub(lambda m: f"{m.group(1)}/{m.group(2)}/plshared/{m.group(3)}"
                              if m.group(3) in ids else m.group(0), message)


def permalink_ids(message: str) -> list[str]:
    return [m.group(3) for m in _PERMALINK_OUT.finditer(message)] if "/pl/" in message else []


def permalinks_in(message: str, site_url: str, team_name: str) -> str:
    """``…/plshared/<id>`` → ``<our site>/<our team>/pl/<id>`` (team channels only)."""
    if "/plshared/" not in message or not team_name:
        return message
    base = site_url.rstrip("/")
    return _PERMALINK_IN.sub(lambda m: f"{base}/{team_name}/pl/{m.group(1)}", message)
