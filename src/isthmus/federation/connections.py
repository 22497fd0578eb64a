"""Secure-connection lifecycle: create → (regenerate) → accept → confirm → ping, plus inbound dispatch.

The handshake (``mattermost-protocol.md`` §2.4), seen from both sides:

1. Inviter I: :meth:`Connections.create` stores a pending row (``site_url = pending_<id>``, ``token = T1``)
   and hands out the invite {R, I's SiteURL, T1, version 3} encrypted with a password.
2. Acceptor A: :meth:`Connections.accept` decrypts it, stores its own row (id R copied, ``token = T2``,
   ``remote_token = T3``) and POSTs ``confirm_invite`` to I presenting T1 with payload {R, A's URL, T2, T3}.
   If that call fails in any way, A deletes its row again: nothing half-created survives.
3. I: :meth:`Connections.confirm` checks T1 (constant time), the 48 h window, that the row is still
   pending (#28943) and that the payload names the authenticated connection (#37576), then in a single
   compare-and-set stores A's URL, ``remote_token = T2`` and ``token = T3``. T1 is dead from then on.
4. Both sides ping each other at once; from then on each presents the other's token.

Only the acceptor's confirm call crosses the network during the handshake, and no transaction is ever
held open across it. Tokens never appear in REST answers, errors or logs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import string
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from isthmus.cluster.leases import Leases
from isthmus.core.errors import AppError, invalid_param, rate_limited
from isthmus.core.ids import new_token
from isthmus.domain import remotes as dom
from isthmus.domain.context import Domain
from isthmus.domain.models import Actor
from isthmus.domain.permissions import PERMISSION_MANAGE_SHARED_CHANNELS
from isthmus.domain.remotes import RemoteCluster
from isthmus.domain.roles import has_system_permission
from isthmus.domain.sessions import LoginLimiter
from isthmus.federation.auth import RemoteCredentials, invalid_token, tokens_match
from isthmus.federation.invite import decrypt_invite, encrypt_invite
from isthmus.federation.pinger import Pinger
from isthmus.federation.settings import Timings
from isthmus.federation.transport import RemoteClient, Timeouts, TransportError
from isthmus.federation.wire import INVITE_VERSION, TOPIC_INVITATION, Frame, Invite, Msg, Response, is_absolute_url
from isthmus.store.repo.remotes import RemoteFilter

log = logging.getLogger(__name__)

GENERATED_PASSWORD_CHARS = 16
MAX_PASSWORD_CHARS = 256
# Key derivation costs ~0.1–0.2 s of CPU: bound how many run at once so accept spam cannot starve us.
MAX_CONCURRENT_KDF = 2

TopicHandler = Callable[[Msg, RemoteCluster], Awaitable[Any]]


def random_password(length: int = GENERATED_PASSWORD_CHARS) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _confirm_error(reason: str, status: int = 400) -> AppError:
    return AppError("api.command_remote.confirm_invitation.error", f"Could not confirm invitation: {reason}", status)


def _accept_error(err: TransportError) -> AppError:
    if 400 <= err.status < 500:
        what = err.error_id or err.peer_message or str(err)
        return AppError("api.remote_cluster.accept_invitation_error",
                        f"The inviting server refused the invitation ({what}).", 400)
    return AppError("api.remote_cluster.accept_invitation_error",
                    f"Could not confirm the invitation with the inviting server: {err}", 502)


class Connections:
    """The secure-connection service of one server (built by the composition root)."""

    def __init__(self, d: Domain, *, http_transport: Any = None, timings: Timings | None = None) -> None:
        self.d = d
        self._transport = http_transport
        self.topics: dict[str, list[TopicHandler]] = {}
        self._kdf_slots = asyncio.Semaphore(MAX_CONCURRENT_KDF)
        self._config_tasks: set[asyncio.Task[None]] = set()
        # /msg requests being handled per connection, and who wants to know (the sync metrics).
        self.inbound_in_flight: dict[str, int] = {}
        self.inbound_observers: list[Callable[[str, int], None]] = []
        # Set by the composition root (several serving processes: one pings); handed to every Pinger built.
        self.leases: Leases | None = None
        self.configure(timings or Timings.from_env())

    def configure(self, timings: Timings) -> None:
        """(Re)build the parts that depend on timings. Call before :meth:`start`."""
        self.timings = timings
        self.client = RemoteClient(self._transport, Timeouts(ping_s=timings.ping_timeout_s,
                                                             send_s=timings.send_timeout_s))
        self.pinger = Pinger(self.d, self.client, timings)
        self.pinger.leases = self.leases
        self.accept_limiter = LoginLimiter(limit=timings.accept_attempts_per_minute)

    @contextmanager
    def inbound(self, remote_id: str) -> Iterator[None]:
        """Count one /msg request from ``remote_id`` while it is handled (a peer must keep to one at a time)."""
        n = self.inbound_in_flight[remote_id] = self.inbound_in_flight.get(remote_id, 0) + 1
        for observe in self.inbound_observers:
            observe(remote_id, n)
        try:
            yield
        finally:
            n = self.inbound_in_flight[remote_id] = self.inbound_in_flight[remote_id] - 1
            for observe in self.inbound_observers:
                observe(remote_id, n)

    # --- service lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Run the ping loop if the service is enabled, and follow config changes from then on."""
        if self.client.is_closed:  # started again after a stop
            self.configure(self.timings)
        if not getattr(self, "_listening", False):
            self.d.config_store.on_change(self._on_config_change)
            self._listening = True
        self._stopped = False
        if dom.service_enabled(self.d):
            self.pinger.start()

    async def stop(self) -> None:
        self._stopped = True
        await self.pinger.stop()
        await self.client.aclose()

    def _on_config_change(self, _config: Any) -> None:
        if getattr(self, "_stopped", True):
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        if dom.service_enabled(self.d) and not self.pinger.running:
            self.pinger.start()
        elif not dom.service_enabled(self.d) and self.pinger.running:
            # Not through pinger.spawn: stop() cancels the pinger's own tasks, which must not include itself.
            task = asyncio.get_running_loop().create_task(self.pinger.stop())
            self._config_tasks.add(task)
            task.add_done_callback(self._config_tasks.discard)

    @property
    def running(self) -> bool:
        return self.pinger.running

    def register_topic(self, topic: str, handler: TopicHandler) -> None:
        """Listen for ``/msg`` frames of ``topic``; the handler's return value becomes the reply payload."""
        self.topics.setdefault(topic, []).append(handler)

    # --- admin operations (inviter side) ----------------------------------------------------------

    async def create(self, actor: Actor, *, name: object, display_name: object = None, default_team_id: object = "",
                     password: object = None, require_team: bool = True) -> tuple[RemoteCluster, str, str | None]:
        """Create a pending connection and its invite. Returns (connection, invite code, generated password)."""
        dom.authorize(self.d, actor)
        site_url = dom.own_site_url(self.d)
        clean = dom.normalize_name(name)
        display = dom.check_display_name(display_name, clean)
        team_id = ""
        if require_team:
            team_id = await dom.check_team(self.d, default_team_id, "remote_cluster.default_team_id")
        elif isinstance(default_team_id, str) and default_team_id:
            team_id = await dom.check_team(self.d, default_team_id, "remote_cluster.default_team_id")
        generated = None
        if password is None or password == "":
            password = generated = random_password()
        pw = self._password(password)
        rc = await dom.do_create_remote(self.d, actor, name=clean, display_name=display, default_team_id=team_id,
                                        token=new_token())
        code = await self._encrypt(rc, site_url, pw)
        log.info("secure connection %s (%s) created, invitation pending", rc.name, rc.remote_id)
        return rc, code, generated

    async def generate_invite(self, actor: Actor, remote_id: str, password: object) -> str:
        """A new code for a pending connection. Same token, so codes made earlier keep working."""
        dom.authorize(self.d, actor)
        if not isinstance(password, str) or not password:
            raise invalid_param("password")
        site_url = dom.own_site_url(self.d)
        rc = await dom.get_remote(self.d, remote_id)
        if rc.is_confirmed:
            raise AppError("api.remote_cluster.generate_invite_cluster_is_confirmed",
                           "The secure connection is already confirmed; its invitation cannot be regenerated.", 400)
        code = await self._encrypt(rc, site_url, self._password(password))
        await dom.do_renew_invite(self.d, rc.remote_id)
        return code

    async def _encrypt(self, rc: RemoteCluster, site_url: str, password: str) -> str:
        invite = Invite(remote_id=rc.remote_id, site_url=site_url, token=rc.token, version=INVITE_VERSION)
        async with self._kdf_slots:
            return await asyncio.to_thread(encrypt_invite, invite, password)

    @staticmethod
    def _password(password: object) -> str:
        if not isinstance(password, str) or not 1 <= len(password) <= MAX_PASSWORD_CHARS:
            raise invalid_param("password")
        return password

    # --- acceptor side ----------------------------------------------------------------------------

    async def accept(self, actor: Actor, *, name: object, display_name: object = None, default_team_id: object = "",
                     invite: object, password: object, client_key: str = "",
                     require_team: bool = True) -> RemoteCluster:
        dom.authorize(self.d, actor)
        clean = dom.normalize_name(name)
        display = dom.check_display_name(display_name, clean)
        team_id = ""
        if require_team or (isinstance(default_team_id, str) and default_team_id):
            team_id = await dom.check_team(self.d, default_team_id, "remoteCluster.default_team_id")
        if not isinstance(invite, str) or not invite:
            raise invalid_param("invite")
        if not isinstance(password, str) or not password or len(password) > MAX_PASSWORD_CHARS:
            raise invalid_param("password")
        self._rate_limit(actor, client_key)
        async with self._kdf_slots:
            opened = await asyncio.to_thread(decrypt_invite, invite, password)
        site_url = dom.own_site_url(self.d)
        return await self._accept_opened(actor, opened, clean, display, team_id, site_url)

    def _rate_limit(self, actor: Actor, client_key: str) -> None:
        """Every attempt counts (not only failures), so parallel guesses are bounded too."""
        keys = [f"user:{actor.user_id}"] + ([f"addr:{client_key}"] if client_key else [])
        wait = max(self.accept_limiter.retry_after(k) for k in keys)
        if wait > 0:
            raise rate_limited("Too many invitation attempts, try again in {seconds} seconds.", wait)
        for key in keys:
            self.accept_limiter.record_failure(key)

    async def _accept_opened(self, actor: Actor, opened: Invite, name: str, display: str, team_id: str,
                             site_url: str) -> RemoteCluster:
        # Legacy (version < 2) inviters keep presenting… and expecting T1; newer ones take our fresh T3.
        remote_token = new_token() if opened.version >= 2 else opened.token
        rc = await dom.do_insert_accepted_remote(
            self.d, actor, remote_id=opened.remote_id, name=name, display_name=display, default_team_id=team_id,
            site_url=opened.site_url, token=new_token(), remote_token=remote_token)
        payload = Invite(remote_id=rc.remote_id, site_url=site_url, token=rc.token, refreshed_token=remote_token,
                         version=INVITE_VERSION)
        frame = Frame(remote_id=rc.remote_id, msg=Msg.new(TOPIC_INVITATION, payload.to_obj(), self.d.now()))
        try:
            response = await self.client.confirm_invite(opened.site_url, frame, invite_token=opened.token)
        except TransportError as err:
            await dom.do_discard_remote(self.d, rc)
            log.warning("accepting secure connection %s failed: %s", rc.remote_id, err)
            raise _accept_error(err) from None
        except BaseException:
            await dom.do_discard_remote(self.d, rc)
            raise
        if not response.ok:
            await dom.do_discard_remote(self.d, rc)
            raise AppError("api.remote_cluster.accept_invitation_error",
                           f"The inviting server refused the invitation: {response.err[:300]}", 400)
        log.info("secure connection %s (%s) accepted, connected to %s", rc.name, rc.remote_id, rc.site_url)
        self.pinger.ping_soon(rc)
        return rc

    # --- inbound (server to server) ---------------------------------------------------------------

    async def authenticate(self, creds: RemoteCredentials) -> RemoteCluster:
        """The live connection whose token was presented; unknown id and wrong token look the same."""
        rc = await dom.find_live_remote(self.d, creds.remote_id)
        if rc is None or not tokens_match(creds.token, rc.token):
            raise invalid_token()
        return rc

    async def confirm(self, rc: RemoteCluster, frame: Frame) -> RemoteCluster:
        """Inviter side of ``confirm_invite`` for the authenticated connection ``rc``."""
        # 48 hours after the invitation was last (re)generated: regenerating gives a stale invite new life.
        if self.d.now() > dom.invite_expires_at(rc, self.timings.invite_expires_ms):
            raise AppError("api.context.invitation_expired.error", "The invitation has expired.", 400)
        if not isinstance(frame.msg.payload, dict):
            raise invalid_param("msg.payload")
        try:
            confirm = Invite.from_obj(frame.msg.payload)
        except AppError:
            raise invalid_param("msg.payload") from None
        if rc.is_confirmed:  # #28943: a confirmed connection is never re-bound
            raise _confirm_error(f"secure connection {rc.remote_id} is already confirmed")
        if confirm.remote_id != frame.remote_id:  # #37576: the payload must name the authenticated connection
            raise _confirm_error("the invitation belongs to another connection")
        if not is_absolute_url(confirm.site_url) or not confirm.site_url.startswith(("http://", "https://")):
            raise _confirm_error("invalid site URL")
        if not dom.is_valid_token(confirm.token):
            raise _confirm_error("invalid token")
        if confirm.version >= 2 and confirm.refreshed_token:
            if not dom.is_valid_token(confirm.refreshed_token) or confirm.refreshed_token == rc.token:
                raise _confirm_error("the refreshed token must be new")
            new = confirm.refreshed_token
        else:
            new = new_token()  # a legacy acceptor keeps presenting the invite token: it is locked out
        updated = await dom.do_confirm_remote(self.d, rc.remote_id, invite_token=rc.token, site_url=confirm.site_url,
                                              remote_token=confirm.token, new_token=new)
        if updated is None:
            raise _confirm_error(f"secure connection {rc.remote_id} is no longer pending")
        log.info("secure connection %s (%s) confirmed by %s", updated.name, updated.remote_id, updated.site_url)
        self.pinger.ping_soon(updated)
        return updated

    async def receive(self, rc: RemoteCluster, msg: Msg) -> Response:
        """Dispatch a ``/msg`` frame to the listeners of its topic. Unknown topics answer OK."""
        response = Response()
        sanitized = dataclasses.replace(rc, token="", remote_token="")  # listeners never need the secrets
        for handler in list(self.topics.get(msg.topic, [])):
            try:
                result = await handler(msg, sanitized)
                if result is not None:
                    response = Response(response.status, response.err, result)
            except Exception as err:
                text = err.message if isinstance(err, AppError) else str(err)
                log.warning("remote %s: listener for topic %r failed: %s", rc.remote_id, msg.topic, text)
                response = Response("FAIL", text, response.payload)
        return response

    # --- admin reads and other writes -------------------------------------------------------------

    async def list_connections(self, actor: Actor, f: RemoteFilter, *, page: int = 0,
                   per_page: int = 999_999) -> list[RemoteCluster]:
        # Sharing a channel means choosing among the connections: shared-channel managers see the list too
        # (sanitized, as for admins), as in Mattermost v11.
        if not has_system_permission(self.d, actor, PERMISSION_MANAGE_SHARED_CHANNELS):
            dom.authorize(self.d, actor)
        dom.require_service(self.d)
        if f.exclude_offline:
            f = RemoteFilter(**{**f.__dict__, "online_since": self.d.now() - self.timings.offline_after_ms})
        return await dom.list_remotes(self.d, f, page=page, per_page=per_page)

    async def get(self, actor: Actor, remote_id: str) -> RemoteCluster:
        dom.authorize(self.d, actor)
        return await dom.get_remote(self.d, remote_id, include_deleted=True)

    async def patch(self, actor: Actor, remote_id: str, *, display_name: object = None,
                    default_team_id: object = None, policy: dict[str, object] | None = None) -> RemoteCluster:
        return await dom.do_patch_remote(self.d, actor, remote_id, display_name=display_name,
                                         default_team_id=default_team_id, policy=policy)

    async def delete(self, actor: Actor, remote_id: str) -> bool:
        deleted = await dom.do_delete_remote(self.d, actor, remote_id)
        if deleted:
            self.pinger.forget(remote_id)
            log.info("secure connection %s removed", remote_id)
        return deleted

    def is_online(self, rc: RemoteCluster) -> bool:
        return self.pinger.is_online(rc)
