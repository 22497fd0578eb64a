"""Who may change what in a shared channel, on every topology (hub and spoke, mesh).

A user is owned by one connection on each server (``users.remote_id``: the connection it was first
received from; None for our own users). The rules, the same on the sender's REST API and on a receiver:

* New posts and reactions: by users the sender owns. The channel's home may also relay content of users
  owned by *other* connections: in a mesh we may know a user directly from its own server (through another
  channel) while this channel's content reaches us through its home. The home vouches for what it relays;
  it applied these same rules when the content reached it. Content of our own users never comes from a remote.
* Content changes (message, files, props): only from the author's own server, relayed through the home.
  So a remote admin cannot rewrite (or re-attribute with ``override_username``) someone else's post.
* Deletion: the author's server, or the channel's home (moderation). Reaction removal likewise.
* Pins: any participant (channel moderation; a last-writer-wins register, ``synced._pin_change``).

Receivers refuse a violation as an item error (``post_errors`` / ``reaction_errors``), before writing it.
"""

from __future__ import annotations

from typing import Any

from isthmus.core.errors import AppError
from isthmus.core.ids import is_valid_id
from isthmus.domain.context import Tx
from isthmus.domain.models import User
from isthmus.domain.synced.users import owned_user
from isthmus.store.repo import access as access_repo
from isthmus.store.repo import clocks as clocks_repo
from isthmus.store.repo import posts as posts_repo
from isthmus.store.repo import remotes as remotes_repo
from isthmus.store.repo import shared as shares_repo
from isthmus.store.repo import users as users_repo


class NotAllowed(Exception):
    """A synced change the sender may not make (an item error, see ``synced.ItemRefused``)."""


async def _share(tx: Tx, channel_id: str) -> dict[str, Any] | None:
    key = f"ownership_share:{channel_id}"
    if key not in tx.cache:
        tx.cache[key] = await shares_repo.select_shared_channel(tx.conn, channel_id)
    share: dict[str, Any] | None = tx.cache[key]
    return share


async def sender_is_home(tx: Tx, channel_id: str, sender: str) -> bool:
    """``sender`` is the connection to this channel's home (we are one of its remotes)."""
    share = await _share(tx, channel_id)
    return share is not None and not share["home"] and share["remote_id"] == sender


async def _user(tx: Tx, user_id: object) -> User | None:
    if not is_valid_id(user_id):
        return None
    key = f"ownership_user:{user_id}"
    if key not in tx.cache:
        row = await users_repo.select_user(tx.conn, str(user_id))
        tx.cache[key] = User(**row) if row is not None else None
    user: User | None = tx.cache[key]
    return user


async def author_from(tx: Tx, user_id: object, sender: str, channel_id: str, *, member: bool = True) -> User:
    """The author of new content from ``sender``: a user it owns, or, from the channel's home, a user owned by
    another connection (the home vouches) who is a member of the channel here (the home made it one, relaying
    its profile or membership: one forged message cannot speak for any user we happen to know). ``member``
    False: no membership needed (a membership change itself). On the home, a user it removed from the channel
    may post there no more (``member_removed``). Raises a 403 AppError (an item error for the receiver)."""
    try:
        user = await owned_user(tx, user_id, sender)
    except AppError:
        vouched = await _user(tx, user_id)
        if vouched is None or vouched.remote_id is None or not await sender_is_home(tx, channel_id, sender):
            raise
        if member and not await _vouched_member(tx, channel_id, vouched.id, sender):
            raise
        user = vouched
    if member and await removed_by_home(tx, channel_id, user.id):
        raise AppError("api.remote_cluster.user_removed",
                       f"User {user.id} was removed from this channel on its home.", 403)
    return user


async def _vouched_member(tx: Tx, channel_id: str, user_id: str, sender: str) -> bool:
    """A member here; or a user no membership change ever named in this channel here whose content the home
    relayed before. That is a user we first knew through the home (it owned the user here, so its relays needed
    no vouching) and later directly from its own server, which took the user over: from then on the home's
    relays need a vouch, and no membership backs it when the user's own server has membership sync off (it
    sends none, so the home has none to relay). A user a membership change removed here stays refused, and so
    does a user the home never relayed in this channel (it cannot start speaking for anyone we happen to know)."""
    if await access_repo.select_channel_member(tx.conn, channel_id, user_id) is not None:
        return True
    if await clocks_repo.select_member_clocks(tx.conn, channel_id, [user_id]):
        return False
    return await posts_repo.has_post_relayed_by(tx.conn, channel_id, user_id, sender)


async def member_subject(tx: Tx, user_id: object, sender: str, channel_id: str, is_add: bool) -> User:
    """The user of a membership change from ``sender``: one it owns, or from the channel's home anyone (it
    decides who is in its channel: our own users too). An owner cannot add back a user the home removed."""
    try:
        user = await owned_user(tx, user_id, sender)
    except AppError:
        home_says = await _user(tx, user_id) if await sender_is_home(tx, channel_id, sender) else None
        if home_says is None:
            raise
        return home_says
    if is_add and await removed_by_home(tx, channel_id, user.id):
        raise AppError("api.remote_cluster.user_removed",
                       f"User {user.id} was removed from this channel on its home; only the home can add it back.",
                       403)
    return user


async def check_content_change(tx: Tx, author_id: str, sender: str, channel_id: str) -> None:
    """An edit (message, files, props) of ``author_id``'s post may come from the author's server, or be relayed
    by the home for a user of another connection; never from a remote for one of our own users."""
    user = await _user(tx, author_id)
    if user is not None and user.remote_id == sender:
        return
    if user is not None and user.remote_id is not None and await sender_is_home(tx, channel_id, sender):
        return
    raise NotAllowed("only the author's own workspace may edit this post")


async def check_deletion(tx: Tx, author_id: str, sender: str, channel_id: str) -> None:
    """A deletion of ``author_id``'s post or reaction: the author's server or the channel's home."""
    user = await _user(tx, author_id)
    if (user is not None and user.remote_id == sender) or await sender_is_home(tx, channel_id, sender):
        return
    raise NotAllowed("only the author's own workspace or the channel's home may delete this")


async def relayed_by_home(tx: Tx, incoming: dict[str, Any], sender: str, channel_id: str) -> User | None:
    """A user record the home relays (it names the user's owner, ``remote_id``) for a user we know from another
    connection: kept as it is (the owner's own record is the one we follow), so a relay never changes who owns
    a user here. None otherwise (the record goes through ``upsert_remote_user`` and its checks)."""
    user_id = incoming.get("id")
    if not incoming.get("remote_id"):
        return None
    # Not cached: the record applied next may change the owner (remote_users._claims_relayed)
    row = await users_repo.select_user(tx.conn, str(user_id)) if is_valid_id(user_id) else None
    user = User(**row) if row is not None else None
    if user is None or user.remote_id is None or user.remote_id == sender:
        return None
    return user if await sender_is_home(tx, channel_id, sender) else None


# --- members removed on the home ----------------------------------------------------------------------

async def removed_by_home(tx: Tx, channel_id: str, user_id: str) -> bool:
    """We are the channel's home and removed this remote user from it: its server may not post for it here."""
    share = await _share(tx, channel_id)
    if share is None or not share["home"]:
        return False
    key = f"ownership_removed:{channel_id}:{user_id}"
    if key not in tx.cache:
        tx.cache[key] = await shares_repo.select_removed_member(tx.conn, channel_id, user_id)
    return bool(tx.cache[key])


async def member_removed(tx: Tx, channel_id: str, user_id: str, now: int) -> None:
    """A local removal from a channel we are the home of: remember it for a remote user, durably (with member
    sync off nothing tells its server, and its next profile would make it a member again on receipt)."""
    share = await _share(tx, channel_id)
    user = await _user(tx, user_id)
    if share is not None and share["home"] and user is not None and user.remote_id is not None:
        await shares_repo.insert_removed_member(tx.conn, channel_id, user_id, now)
        tx.cache[f"ownership_removed:{channel_id}:{user_id}"] = True


async def member_added(tx: Tx, channel_id: str, user_id: str) -> None:
    """Added back (by us, or by its own server with member sync on): its content is welcome again."""
    if await shares_repo.delete_removed_member(tx.conn, channel_id, user_id):
        tx.cache[f"ownership_removed:{channel_id}:{user_id}"] = False


# --- the sender's REST API --------------------------------------------------------------------------

async def _workspace_name(tx: Tx, user: User) -> str:
    # A relayed user's name keeps its own server's name after the colon (bob:beta); a direct one has ours
    # for that connection. Either way it is the workspace people know the author from.
    if ":" in user.username:
        return user.username.rsplit(":", 1)[1]
    row = await remotes_repo.select_remote(tx.conn, user.remote_id or "", include_deleted=True)
    return str(row["display_name"] or row["name"]) if row is not None else "another workspace"


async def remote_author(tx: Tx, channel_id: str, author_id: str) -> tuple[User, dict[str, Any]] | None:
    """(author, share) when ``author_id`` is a user of a connected workspace in a shared channel, else None."""
    share = await _share(tx, channel_id)
    if share is None:
        return None
    user = await _user(tx, author_id)
    if user is None or user.remote_id is None:
        return None
    return user, share


async def refuse_remote_edit(tx: Tx, channel_id: str, author_id: str) -> None:
    """A local edit of a post written on another workspace would be refused there: refuse it here (403).
    Also in a channel no longer shared: the post is still its author's, and a later re-invite would replay
    the edit as ours (the model-based test found this after uninvites)."""
    user = await _user(tx, author_id)
    if user is None or user.remote_id is None:
        return
    name = await _workspace_name(tx, user)
    raise AppError("api.post.update_post.remote_author.app_error",
                   f"This message was written on the workspace {name}. Only its author can edit it there; "
                   f"reply instead, or ask them to change it.", 403)


async def _author_in_former_copy(tx: Tx, channel_id: str, author_id: str) -> User | None:
    """The author, when ``author_id`` is another workspace's user and the channel is the copy of a home that may
    share it with us again, not shared now. What changes such a post here the home never hears of: the
    re-accept's replay leaves out what came from the home (it has it), so the change would stay ours alone."""
    if await _share(tx, channel_id) is not None:
        return None
    user = await _user(tx, author_id)
    if user is None or user.remote_id is None or not await shares_repo.was_a_copy(tx.conn, channel_id):
        return None
    return user


async def refuse_remote_delete(tx: Tx, channel_id: str, author_id: str, what: str = "message") -> None:
    """Deleting another workspace's user's post (or reaction) is allowed only on the channel's home (403).
    Also in a copy not shared now (the model-based test's run z1: the post stayed deleted on that copy
    only after the re-invite). A former home may still moderate its channel."""
    found = await remote_author(tx, channel_id, author_id)
    if found is not None and found[1]["home"]:
        return
    user = found[0] if found is not None else await _author_in_former_copy(tx, channel_id, author_id)
    if user is None:
        return
    name = await _workspace_name(tx, user)
    error_id = "api.post.delete_post.remote_author.app_error" if what == "message" \
        else "api.reaction.delete.remote_user.app_error"
    raise AppError(error_id,
                   f"This {what} comes from the workspace {name}. It can be removed only there, or on the "
                   f"workspace that shares this channel; ask an admin of either to remove it.", 403)


async def refuse_pin_in_former_copy(tx: Tx, channel_id: str, author_id: str) -> None:
    """Pins are anyone's while the channel is shared; in a copy not shared now, a post from another workspace
    keeps its pin until the channel is shared again (the pin would stay this copy's alone, see above)."""
    user = await _author_in_former_copy(tx, channel_id, author_id)
    if user is None:
        return
    name = await _workspace_name(tx, user)
    raise AppError("api.post.pin.remote_author.app_error",
                   f"This message comes from the workspace {name}, which no longer shares this channel with this "
                   f"workspace. It can be pinned or unpinned here again once the channel is shared again.", 403)
