"""Issue 13, defect 1, on three real ``isthmus serve`` processes: alpha shares a channel with beta (which accepts
files up to 2 KB) and with gamma (default limits). A file bigger than beta allows, then text posts: gamma gets
the file, beta gets every post (the file's post without the file, saying why), and alpha records the refusal.
Before the fix the refused upload failed the batch on every pass and nothing after the file reached beta."""

from __future__ import annotations

from typing import Any

import pytest

from tests.loopback.conftest import SpawnServer
from tests.loopback.test_connections import Admin, connect, wait_for
from tests.loopback.test_sync_kill import ENV
from tests.testlib.clients import unique

pytestmark = pytest.mark.loopback

LIMIT = 2048
MARKER = "isthmus_files_not_transferred"


def _connect(home: Admin, peer: Admin, name: str) -> str:
    return connect(home, peer, name)


def _post(admin: Admin, post_id: str) -> dict[str, Any] | None:
    r = admin.http.get(f"/api/v4/posts/{post_id}")
    return r.json() if r.status_code == 200 else None


def test_a_file_beta_refuses_reaches_gamma_and_never_blocks_beta(spawn: SpawnServer) -> None:
    alpha_srv = spawn("alpha", env=ENV).start()
    beta_srv = spawn("beta", env={**ENV, "MM_FILESETTINGS_MAXFILESIZE": str(LIMIT)}).start()
    gamma_srv = spawn("gamma", env=ENV).start()
    alpha, beta, gamma = Admin(alpha_srv), Admin(beta_srv), Admin(gamma_srv)
    to_beta, to_gamma = _connect(alpha, beta, "beta"), _connect(alpha, gamma, "gamma")
    r = alpha.http.post("/api/v4/channels", json={"team_id": alpha.team_id, "name": unique("ch"),
                                                  "display_name": "Reports", "type": "O"})
    channel_id = r.json()["id"]
    for remote_id, peer in ((to_beta, beta), (to_gamma, gamma)):
        r = alpha.http.post(f"/api/v4/remotecluster/{remote_id}/channels/{channel_id}/invite")
        assert r.status_code == 200, r.text
        wait_for(lambda p=peer: p.http.get(f"/api/v4/channels/{channel_id}").status_code == 200)  # type: ignore[misc]

    data = b"r" * (3 * LIMIT)
    r = alpha.http.post("/api/v4/files", data={"channel_id": channel_id},
                        files={"files": ("report.pdf", data, "application/pdf")})
    assert r.status_code == 201, r.text
    file_id = r.json()["file_infos"][0]["id"]
    r = alpha.http.post("/api/v4/posts", json={"channel_id": channel_id, "message": "the report",
                                               "file_ids": [file_id]})
    assert r.status_code == 201, r.text
    with_file = r.json()["id"]
    after = [alpha.http.post("/api/v4/posts", json={"channel_id": channel_id, "message": f"text {i}"}).json()["id"]
             for i in range(3)]

    for post_id in [with_file, *after]:
        wait_for(lambda p=post_id: _post(beta, p) is not None and _post(gamma, p) is not None,  # type: ignore[misc]
                 within=60)
    # gamma has the file, byte for byte
    assert gamma.http.get(f"/api/v4/files/{file_id}").content == data
    # beta has the post without it, and says why
    got = _post(beta, with_file)
    assert got is not None
    [marker] = got["props"][MARKER]
    assert (marker["id"], marker["name"], marker["reason"]) == (file_id, "report.pdf", "too_large")
    assert marker["message"] == "A file (report.pdf, 6 KB) was not transferred: this workspace accepts files up to 2 KB"
    assert beta.http.get(f"/api/v4/files/{file_id}/info").status_code == 404
    assert MARKER not in (_post(gamma, with_file) or {}).get("props", {})
    # alpha recorded the refusal for beta only
    nd = alpha.http.get(f"/api/v4/remotecluster/{to_beta}").json()["isthmus_not_delivered"]
    assert nd["count"] == 1 and nd["recent"][0]["item_id"] == file_id
    assert "report.pdf (6 KB) was not delivered to Beta" in nd["recent"][0]["message"]
    assert alpha.http.get(f"/api/v4/remotecluster/{to_gamma}").json()["isthmus_not_delivered"]["count"] == 0
