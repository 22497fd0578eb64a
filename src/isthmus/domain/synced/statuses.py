"""Statuses received from a connected workspace (``statuses`` of ``sharedchannel_sync``, §6.3 step 8).

Each item is Mattermost's ``model.Status`` JSON. Only the server that owns a user may tell us its status
(#27326), so an item is refused when its user is not a synthetic user of the sender: our own users, users
of a third server, unknown ids. Malformed items (unknown status, wrong types) are refused one by one; the
caller reports the refused user ids in ``status_errors`` and the rest of the message still applies.
"""

from __future__ import annotations

from typing import Any

from isthmus.core.errors import AppError
from isthmus.core.ids import is_valid_id
from isthmus.domain.context import Domain, Tx
from isthmus.domain.statuses import STATUSES, Status, apply_synced_status
from isthmus.domain.synced.users import owned_user

STATUS_CLOCK_KEY = "isthmus_status_at"  # our extension to Mattermost's Status (its decoder ignores it)
MAX_MS = 1 << 53  # JavaScript's safe integers: what a Mattermost client can hold
MAX_DND_END_S = 1 << 40  # as the REST body check


class StatusRefused(Exception):
    pass


def _int(item: dict[str, Any], key: str, limit: int) -> int:
    value = item.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise StatusRefused(f"{key} must be an integer in 0..{limit}")
    return value


def parse_synced_status(item: dict[str, Any]) -> Status:
    """A Mattermost Status object → our Status (extra keys such as ``active_channel`` are ignored)."""
    user_id = item.get("user_id")
    if not is_valid_id(user_id):
        raise StatusRefused("invalid user_id")
    assert isinstance(user_id, str)
    status = item.get("status")
    if not isinstance(status, str) or status not in STATUSES:
        raise StatusRefused(f"status must be one of {sorted(STATUSES)}")
    manual = item.get("manual", False)
    if not isinstance(manual, bool):
        raise StatusRefused("manual must be a boolean")
    activity = _int(item, "last_activity_at", MAX_MS)
    # The clock: ours (``isthmus_status_at``) from an Isthmus peer; a Mattermost peer sends none, and its
    # ``last_activity_at`` is the best order there is (a status set by hand keeps it, so ties still apply).
    clock = _int(item, STATUS_CLOCK_KEY, MAX_MS) if STATUS_CLOCK_KEY in item else activity
    # Stored as the owner said it: our presence rules never touch a synthetic user's status.
    return Status(user_id, status, manual, activity, _int(item, "dnd_end_time", MAX_DND_END_S), "", clock)


async def apply_remote_statuses(d: Domain, tx: Tx, remote_id: str, items: list[dict[str, Any]]) -> list[str]:
    """Save the statuses ``remote_id`` sent, in the caller's transaction; returns the refused user ids."""
    errors: list[str] = []
    for item in items:
        raw = item.get("user_id")
        try:
            status = parse_synced_status(item)
            await owned_user(tx, status.user_id, remote_id)
            await apply_synced_status(d, tx, status, remote_id)
        except (StatusRefused, AppError):
            errors.append(str(raw)[:26] if isinstance(raw, str) else "")
    return errors
