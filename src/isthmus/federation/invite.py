"""Invitation codes: Mattermost's password-encrypted RemoteClusterInvite (``mattermost-protocol.md`` §2.2).

code = URL-safe base64 (with ``=`` padding) of ``salt(16) ‖ nonce(12) ‖ AES-256-GCM(invite JSON) ‖ tag(16)``.
The key is PBKDF2-HMAC-SHA256(password, salt, 600 000, 32) for version ≥ 3 invites and
scrypt(N=32768, r=8, p=1) for older ones; decoding tries PBKDF2 first, then scrypt, as Mattermost does,
so codes from 2023–2025 servers still open. Key derivation is deliberately slow (~0.1 s each): callers
on an event loop run these functions in a worker thread.

Pure: no I/O. Errors are AppErrors carrying Mattermost's ids so the REST layer can return them as is.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from isthmus.core.errors import AppError
from isthmus.federation.wire import Invite, loads_object

SALT_BYTES = 16
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32
PBKDF2_ITERATIONS = 600_000
SCRYPT_N, SCRYPT_R, SCRYPT_P = 32768, 8, 1
PBKDF2_MIN_VERSION = 3
# A real code is ~300 characters; refuse absurd input before decoding or deriving anything.
MAX_CODE_CHARS = 8192


def pbkdf2_key(password: str, salt: bytes) -> bytes:
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, iterations=PBKDF2_ITERATIONS)
    return kdf.derive(password.encode("utf-8"))


def scrypt_key(password: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=KEY_BYTES, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(password.encode("utf-8"))


def encrypt_invite(invite: Invite, password: str, *, salt: bytes | None = None, nonce: bytes | None = None) -> str:
    """Encrypt ``invite`` into an invite code. ``salt``/``nonce`` are only passed by tests (test vectors)."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
    if len(salt) != SALT_BYTES or len(nonce) != NONCE_BYTES:
        raise ValueError("salt must be 16 bytes and nonce 12 bytes")
    key = pbkdf2_key(password, salt) if invite.version >= PBKDF2_MIN_VERSION else scrypt_key(password, salt)
    sealed = AESGCM(key).encrypt(nonce, invite.to_json(), None)
    return base64.urlsafe_b64encode(salt + nonce + sealed).decode("ascii")


def base64_error(detail: str = "") -> AppError:
    return AppError("api.remote_cluster.base64_decode_error", "Invalid invitation code: it is not base64 encoded.",
                    400, detail)


def decrypt_error(detail: str = "") -> AppError:
    return AppError("api.remote_cluster.invite_decrypt_error",
                    "Could not decrypt the invitation: wrong password or damaged code.", 400, detail)


def decode_code(code: str) -> bytes:
    """base64url-decode an invite code. Whitespace (pasted line breaks) is ignored; padding may be omitted."""
    if not isinstance(code, str) or len(code) > MAX_CODE_CHARS:
        raise base64_error("invite code too long")
    compact = "".join(code.split())
    if not compact:
        raise base64_error("empty invite code")
    if "+" in compact or "/" in compact:  # standard-alphabet base64 is not what Mattermost writes
        raise base64_error("not URL-safe base64")
    compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact.encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise base64_error("not URL-safe base64") from None


def _open(key: bytes, body: bytes) -> bytes | None:
    try:
        return AESGCM(key).decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], None)
    except InvalidTag:
        return None


def decrypt_invite(code: str, password: str) -> Invite:
    """Open an invite code and validate the invite inside it.

    Raises ``api.remote_cluster.base64_decode_error`` for undecodable input,
    ``api.remote_cluster.invite_decrypt_error`` for a wrong password, a truncated or tampered blob, and
    ``model.remote_cluster_invite.is_valid.*`` when the decrypted invite itself is unusable.
    """
    blob = decode_code(code)
    if len(blob) < SALT_BYTES + NONCE_BYTES + TAG_BYTES:
        raise decrypt_error("invitation too short")
    if not isinstance(password, str) or not password:
        raise decrypt_error("empty password")
    salt, body = blob[:SALT_BYTES], blob[SALT_BYTES:]
    plain = _open(pbkdf2_key(password, salt), body)
    if plain is None:
        plain = _open(scrypt_key(password, salt), body)
    if plain is None:
        raise decrypt_error()
    try:
        invite = Invite.from_obj(loads_object(plain, "invite"))
    except AppError:
        raise decrypt_error("invitation is not a JSON invite") from None
    invite.validate()
    return invite
