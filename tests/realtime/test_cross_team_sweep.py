"""The websocket is an endpoint too (issue 18 item 5): everything team Y does, a member of team X never hears of.

Team Y (invite only) goes through posts, replies, edits, reactions, pins, a file, typing, channel creation, renames,
membership changes, archiving and a DM; xavier, a member of team X only, has a socket open all along. After a
barrier (every event queued for his socket before it has arrived), none of what he received holds any of Y's ids,
names or texts. Control: a member of team Y with a socket receives them."""

from __future__ import annotations

import json

from tests.realtime.wsclient import make_channel, make_team, ws_for
from tests.testlib.clients import Person, make_person, unique
from tests.testlib.live import LiveServer


def test_team_y_activity_never_reaches_a_team_x_socket(live: LiveServer, admin: Person) -> None:
    xavier, yolanda, yves = (make_person(live, admin.http) for _ in range(3))
    make_team(admin, xavier)
    team_y = make_team(yolanda, yves, type_="I")
    x_socket, y_socket = ws_for(live, xavier), ws_for(live, yves)
    secrets = {team_y["id"], team_y["name"]}

    r = yolanda.http.put(f"/api/v4/teams/{team_y['id']}/patch", json={"display_name": "Ysecret renamed"})
    assert r.status_code == 200, r.text
    secrets.add("Ysecret renamed")
    public, private = make_channel(yolanda, team_y["id"], yves), make_channel(yolanda, team_y["id"], yves, type_="P")
    r = yolanda.http.post("/api/v4/channels/direct", json=[yolanda.id, yves.id])
    assert r.status_code == 201, r.text
    dm = r.json()
    secrets |= {public["id"], private["id"], dm["id"], public["name"], private["name"]}
    for ch in (public, private, dm):
        text = f"Ysecret {unique('m')}"
        up = yolanda.http.post("/api/v4/files", params={"channel_id": ch["id"]},
                               files={"files": ("ysecret.txt", b"ysecret body")})
        assert up.status_code == 201, up.text
        file_id = up.json()["file_infos"][0]["id"]
        root = yolanda.http.post("/api/v4/posts", json={"channel_id": ch["id"], "message": text,
                                                        "file_ids": [file_id]}).json()
        reply = yves.http.post("/api/v4/posts", json={"channel_id": ch["id"], "message": text + " reply",
                                                      "root_id": root["id"]}).json()
        secrets |= {text, root["id"], reply["id"], file_id}
        assert yolanda.http.put(f"/api/v4/posts/{root['id']}/patch", json={"message": text + " edited"}
                                ).status_code == 200
        assert yves.http.post("/api/v4/reactions", json={"user_id": yves.id, "post_id": root["id"],
                                                         "emoji_name": "smile"}).status_code == 200
        assert yolanda.http.post(f"/api/v4/posts/{root['id']}/pin").status_code == 200
        assert yolanda.http.post(f"/api/v4/users/{yolanda.id}/typing",
                                 json={"channel_id": ch["id"]}).status_code == 200
        assert yves.http.delete(f"/api/v4/posts/{reply['id']}").status_code == 200
    assert yolanda.http.put(f"/api/v4/channels/{public['id']}/patch",
                            json={"display_name": "Ysecret channel"}).status_code == 200
    assert yolanda.http.delete(f"/api/v4/channels/{private['id']}/members/{yves.id}").status_code == 200
    assert yolanda.http.delete(f"/api/v4/channels/{public['id']}").status_code == 200
    secrets.add("Ysecret channel")

    heard = json.dumps(x_socket.barrier())
    leaked = sorted(s for s in secrets if s in heard)
    assert not leaked, leaked
    control = json.dumps(y_socket.barrier())
    assert sum(s in control for s in secrets) > 5
    x_socket.close()
    y_socket.close()
