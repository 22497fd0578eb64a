"""Failures the crash-loop run (tests/loopback/test_crash_loops.py) found, each replayed in-process.

1. A file in a mesh: gamma's user posts a file in alpha's channel, alpha (the home) relays the file to beta,
   and beta, which knows that user directly from gamma, refused the upload session ("The uploader is not owned
   by the sender"), so the post reached beta without its file and the channel never converged.
"""

from __future__ import annotations

from tests.cluster.test_shared_extras import upload
from tests.cluster.test_shared_ownership import _join, _mesh, _owner
from tests.testlib.cluster import Cluster
from tests.testlib.sharing import channel, person, share, wait_converged


async def test_mesh_home_relays_the_file_of_a_user_known_directly(cluster: Cluster) -> None:
    a, b, c, ab, ac, bc = await _mesh(cluster)
    z = await channel(c)
    await share(c, z, (a, ac), (b, bc))
    cat = await person(c, channel_id=z)
    await cat.post(z, "cat in Z")
    await wait_converged([c, a, b], z, min_posts=1)
    assert await _owner(b, cat.user_id) == bc  # beta knows cat from gamma itself

    x = await channel(a)
    await share(a, x, (b, ab), (c, ac))
    await _join(c, x, cat.user_id)
    info = await upload(cat, x, "notes.txt", b"cat's notes", "text/plain")
    post = await cat.post(x, "cat's file in X", file_ids=[info["id"]])
    # alpha (X's home) relays cat's post and its file to beta; before, beta refused the file's upload session
    snap = await wait_converged([a, b, c], x, min_posts=1)
    [mine] = [p for p in snap["posts"] if p["id"] == post["id"]]
    assert mine["file_ids"] == [info["id"]]
    r = await b.http.get(f"/api/v4/files/{info['id']}")
    assert r.status_code == 200 and r.content == b"cat's notes"
