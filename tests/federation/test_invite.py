"""Invitation crypto: the §2.3 test vectors, byte-exact encoding, and every malformed code."""

from __future__ import annotations

import base64

import pytest

from isthmus.core.errors import AppError
from isthmus.federation.invite import decrypt_invite, encrypt_invite, pbkdf2_key, scrypt_key
from isthmus.federation.wire import Invite

pytestmark = pytest.mark.nodb

PASSWORD = "correct horse battery staple"
SALT = bytes(range(16))
NONCE = bytes(range(0xA0, 0xAC))
PLAIN_V3 = (b'{"remote_id":"yjd5k9g1q3fo8pxwzbn4tqr6sa","remote_team_id":"","site_url":"https://alpha.example.com",'
            b'"token":"8c7u1k5sx3fqbe9q1n6y4m2h7r","version":3}')
CODE_V3 = (
    "AAECAwQFBgcICQoLDA0OD6ChoqOkpaanqKmqq9BMweUWWrGNaEN2kD63dNmca4QMni34hj29HZlGQVudPPXkX8F3V55s1y7TtxtKXIPI4G"
    "zMsau4QaVziQT9Jmm_7jbqH2x-pQFTjDwn-2rn1eG9OcDqpqSOxdGOqCA-0Ywh14Uyw31Kxuc1dPYdBMGcrYAzVXExZAW5CFs9gJ3eQiwDx-"
    "n2pG9H35lE2aBr9zaxuo0u4Rnne6KLgvyMgeH6_wzoCtA=")
CODE_V2 = (
    "AAECAwQFBgcICQoLDA0OD6ChoqOkpaanqKmqq2adPBJK7d6Qdcy_GfgpAMSYN0jaYvCYPJsRNbFEQXBUctoZ3rNkiV9uruw4MG2agTFLKN"
    "iUBsjkua-pvUu7I4p8yDRXAnH-cb6MRfv-oMljLBuSJRMxPJQFAEJjMo2Gw0hHHeCNhFdNkWm68PK7cZiEj2jOcoQ7yigfs4GRiiduo5wmYT"
    "V_HrOvjS7fbaTkScP5Y3u3tP-Xx0k6KIxjP_wqllj3yLM=")
VECTOR = Invite(remote_id="yjd5k9g1q3fo8pxwzbn4tqr6sa", site_url="https://alpha.example.com",
                token="8c7u1k5sx3fqbe9q1n6y4m2h7r", version=3)


def test_key_derivations_match_the_vectors() -> None:
    assert pbkdf2_key(PASSWORD, SALT).hex() == "ef177144eec9420cbc1093d2a8b344a92bc506d0d4ec9c028dd19f8324d8c1e6"
    assert scrypt_key(PASSWORD, SALT).hex() == "7a8e34241db898d59175c696538c417467a975ffe569068425f16188d3159c58"


def test_plaintext_is_go_json_byte_for_byte() -> None:
    assert VECTOR.to_json() == PLAIN_V3


def test_v3_vector_decrypts() -> None:
    assert decrypt_invite(CODE_V3, PASSWORD) == VECTOR


def test_legacy_scrypt_v2_vector_decrypts() -> None:
    got = decrypt_invite(CODE_V2, PASSWORD)
    assert got == Invite(remote_id=VECTOR.remote_id, site_url=VECTOR.site_url, token=VECTOR.token, version=2)


def test_encoder_reproduces_both_codes() -> None:
    assert encrypt_invite(VECTOR, PASSWORD, salt=SALT, nonce=NONCE) == CODE_V3
    v2 = Invite(remote_id=VECTOR.remote_id, site_url=VECTOR.site_url, token=VECTOR.token, version=2)
    assert encrypt_invite(v2, PASSWORD, salt=SALT, nonce=NONCE) == CODE_V2


def test_round_trip_uses_fresh_salt_and_nonce() -> None:
    a, b = encrypt_invite(VECTOR, "pw"), encrypt_invite(VECTOR, "pw")
    assert a != b
    assert decrypt_invite(a, "pw") == decrypt_invite(b, "pw") == VECTOR


def test_go_escapes_html_characters() -> None:
    inv = Invite(remote_id=VECTOR.remote_id, site_url="https://a.example/x?a=1&b=<2>", token="t", version=3)
    assert b"\\u0026" in inv.to_json() and b"\\u003c" in inv.to_json() and b"&" not in inv.to_json()
    assert decrypt_invite(encrypt_invite(inv, "pw"), "pw") == inv


def test_pasted_code_with_line_breaks_and_no_padding_still_opens() -> None:
    pasted = CODE_V3[:100] + "\n  " + CODE_V3[100:].rstrip("=")
    assert decrypt_invite(pasted, PASSWORD) == VECTOR


def _error_id(code: str, password: str = PASSWORD) -> str:
    with pytest.raises(AppError) as info:
        decrypt_invite(code, password)
    assert info.value.status_code == 400
    return info.value.id


def test_wrong_password() -> None:
    assert _error_id(CODE_V3, "wrong password") == "api.remote_cluster.invite_decrypt_error"
    assert _error_id(CODE_V3, "") == "api.remote_cluster.invite_decrypt_error"


@pytest.mark.parametrize("code", ["not base64 at all!", "AAEC$$$$", "", "   ", "Zm9v+/8=", "x" * 9000])
def test_bad_base64(code: str) -> None:
    assert _error_id(code) == "api.remote_cluster.base64_decode_error"


@pytest.mark.parametrize("cut", [0, 4, 16, 28, 43])
def test_truncated_blob(cut: int) -> None:
    blob = base64.urlsafe_b64decode(CODE_V3)
    code = base64.urlsafe_b64encode(blob[:cut]).decode() if cut else "AA=="
    assert _error_id(code) == "api.remote_cluster.invite_decrypt_error"


def test_truncated_tag() -> None:
    blob = base64.urlsafe_b64decode(CODE_V3)
    assert _error_id(base64.urlsafe_b64encode(blob[:-1]).decode()) == "api.remote_cluster.invite_decrypt_error"


@pytest.mark.parametrize("where", ["salt", "nonce", "ciphertext", "tag"])
def test_tampered_blob(where: str) -> None:
    blob = bytearray(base64.urlsafe_b64decode(CODE_V3))
    index = {"salt": 3, "nonce": 20, "ciphertext": 40, "tag": len(blob) - 2}[where]
    blob[index] ^= 0x01
    assert _error_id(base64.urlsafe_b64encode(bytes(blob)).decode()) == "api.remote_cluster.invite_decrypt_error"


def test_encrypted_garbage_is_a_decrypt_error() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    sealed = AESGCM(pbkdf2_key("pw", SALT)).encrypt(NONCE, b"[1,2,3]", None)
    code = base64.urlsafe_b64encode(SALT + NONCE + sealed).decode()
    assert _error_id(code, "pw") == "api.remote_cluster.invite_decrypt_error"


@pytest.mark.parametrize(("invite", "error_id"), [
    (Invite(remote_id="short", site_url="https://a.example", token="t", version=3),
     "model.remote_cluster_invite.is_valid.remote_id.app_error"),
    (Invite(remote_id=VECTOR.remote_id, site_url="https://a.example", token="", version=3),
     "model.remote_cluster_invite.is_valid.token.app_error"),
    (Invite(remote_id=VECTOR.remote_id, site_url="not a url", token="t", version=3),
     "model.remote_cluster_invite.is_valid.site_url.app_error"),
])
def test_decrypted_but_invalid_invite(invite: Invite, error_id: str) -> None:
    assert _error_id(encrypt_invite(invite, "pw"), "pw") == error_id


def test_invite_repr_hides_tokens() -> None:
    assert VECTOR.token not in repr(VECTOR)
