"""Failing examples the model-based sync test found (test_sync_model.py), replayed step by step: refusals,
ownership, meshes and deactivation here; uninvites, re-invites, unshares and restarts in
test_model_regressions_reinvites.py.

Each is named after what it shows.
"""

from __future__ import annotations

from tests.model.sync_machine import SyncMachine


def test_a_refused_file_does_not_block_the_posts_after_it() -> None:
    # delta (attachments off) is the home; alpha posts a file there: the post never arrives (the upload is
    # refused on every pass), where it should arrive without its file.
    state = SyncMachine()
    state.init(n=4, chans=[(555, 0)], configs=[43, 44, 52, 32, 0], extra=31)
    state.post(reply=152, size=500, where=613, who=109)
    state.post(reply=625, size=0, where=203, who=478)
    state.teardown()


def test_an_admin_of_another_server_cannot_edit_a_post() -> None:
    # delta's user posts in delta's channel; alpha's admin edits it on alpha: accepted, and synced back.
    state = SyncMachine()
    state.init(n=5, chans=[(63, 0)], extra=254, configs=[12, 32, 36, 52, 0])
    state.post(reply=403, size=0, where=110, who=514)
    state.delete(which=1000, who=588)
    state.profile(who=392)
    state.refuse(count=1, node=279)
    state.edit(which=119, who=72)
    state.teardown()


def test_a_post_reaches_the_home_in_a_mesh_after_its_author_was_relayed_by_another_server() -> None:
    # Full mesh of three; each server homes a channel shared with its first peer, then gamma joins beta's
    # channel, where alpha's people are relayed to gamma by beta; alpha's next post in gamma's channel was
    # refused by gamma (author not owned by the sender) and never arrived (defect 2, fixed on main). Then it
    # showed a mistake of the model: alpha2's post in beta's channel, written before gamma's invite, was
    # expected on gamma, but history before an invite is not synced (tests/cluster/test_shared_late_invite.py);
    # and, when gamma knew alpha2 from alpha first, gamma (membership sync on) refused beta's relay of alpha2's
    # later posts for ever (tests/cluster/test_shared_mesh_member_sync.py).
    state = SyncMachine()
    state.init(n=3, extra=273, configs=[18, 22, 48, 52, 30], chans=[(371, 0), (600, 0), (115, 0)])
    state.cut_link(pair=70)
    state.cut_link(pair=199)
    state.post(reply=207, size=0, where=111, who=188)
    state.post(reply=337, size=0, where=329, who=736)
    state.cut_link(pair=464)
    state.cut_link(pair=1000)
    state.post(reply=308, size=0, where=299, who=818)
    state.invite(peer=212, where=839)
    state.delete(which=772, who=767)
    state.invite(peer=405, where=496)
    state.refuse(count=3, node=16)
    state.post(reply=11, size=0, where=86, who=11)
    state.invite(peer=139, where=194)
    state.delete(which=21, who=841)
    state.refuse(count=3, node=284)
    state.invite(peer=601, where=787)
    state.heal_all_and_settle()
    state.teardown()


def test_a_deactivation_right_after_a_first_post_reaches_the_peer() -> None:
    # alpha2's first post in alpha's channel is on its way to beta when alpha's admin deactivates alpha2.
    state = SyncMachine()
    state.init(n=3, extra=0, configs=[0, 0, 0, 0, 0], chans=[(0, 0)])
    state.deactivate(who=0)  # alpha1
    state.post(reply=0, size=0, where=0, who=1)  # alpha2
    state.deactivate(who=0)  # alpha2
    state.heal_all_and_settle()
    state.teardown()


def test_a_user_first_sent_already_deactivated_arrives_deactivated() -> None:
    # The link to beta is down while alpha2 posts and is deactivated: its first profile to reach beta says
    # deactivated, and beta used to create the user active anyway.
    state = SyncMachine()
    state.init(n=3, extra=0, configs=[0, 0, 0, 0, 0], chans=[(0, 0)])
    state.cut_link(pair=0)  # alpha-beta
    state.deactivate(who=0)  # alpha1
    state.post(reply=0, size=0, where=0, who=1)  # alpha2
    state.deactivate(who=0)  # alpha2
    state.heal_all_and_settle()
    state.teardown()


def test_an_admin_cannot_edit_another_workspaces_post_in_a_copy_no_longer_shared() -> None:
    # After uninvites delta keeps its copy of alpha's channel, no longer shared; delta's admin edited a post
    # written on alpha in it (the REST check applied only while the channel was shared). A re-invite would
    # replay that edit as delta's; the post stays its author's to change, shared or not.
    state = SyncMachine()
    state.init(n=4, extra=26, configs=[24, 33, 31, 0, 61], chans=[(19, 13), (185, 0)])
    state.edit(which=312, who=349)
    state.delete_channel(where=373)
    state.status(status="online", who=371)
    state.heal_all_and_settle()
    state.heal_all_and_settle()
    state.refuse(count=3, node=448)
    state.refuse(count=1, node=81)
    state.post(reply=187, size=0, where=192, who=0)
    state.delete_channel(where=81)
    state.heal_all_and_settle()
    state.uninvite(peer=165, where=631)
    state.uninvite(peer=379, where=874)
    state.refuse(count=1, node=331)
    state.delete_channel(where=127)
    state.delete_channel(where=62)
    state.post(reply=578, size=500, where=985, who=63)
    state.uninvite(peer=630, where=946)
    state.refuse(count=3, node=679)
    state.delete_channel(where=841)
    state.uninvite(peer=502, where=309)
    state.refuse(count=1, node=83)
    state.heal_all_and_settle()
    state.refuse(count=3, node=441)
    state.edit(which=134, who=734)
    state.teardown()


def test_a_reaction_removed_on_the_home_before_it_arrived_there_is_not_expected_gone() -> None:
    # The model's own mistake (deep run i3): beta's admin reacts in gamma's channel; gamma's admin removes that
    # reaction on gamma before beta's sync has brought it there: a no-op on gamma (200, nothing to remove), then
    # the reaction arrives and stays on both. The model expected it gone everywhere. A client removes only what
    # it sees; the model now leaves such a post's reactions unchecked (convergence is still checked).
    state = SyncMachine()
    state.init(chans=[(979, 10), (320, 14), (216, 14)], configs=[58, 39, 52, 33, 56], n=3, extra=494)
    state.post(priority='important', reply=39, size=0, where=235, who=173)
    state.pin(pinned=True, which=1, who=592)
    state.unreact(which=91, who=310)
    state.ack(on=True, which=196, who=379)
    state.react(emoji='wave', which=272, who=216)
    state.unreact(which=371, who=95)
    state.unreact(which=308, who=100)
    state.cut_link(pair=928)
    state.unshare(where=138)
    state.edit(which=1000, who=426)
    state.deactivate(who=446)
    state.deactivate(who=133)
    state.react(emoji='tada', which=790, who=217)
    state.ack(on=False, which=645, who=388)
    state.profile(who=999)
    state.post(priority='important', reply=147, size=0, where=347, who=191)
    state.profile(who=288)
    state.profile(who=0)
    state.ack(on=True, which=231, who=280)
    state.edit(which=268, who=502)
    state.pin(pinned=False, which=263, who=736)
    state.pin(pinned=False, which=36, who=734)
    state.pin(pinned=False, which=1, who=780)
    state.unshare(where=593)
    state.teardown()


def test_a_home_relays_an_author_whose_own_server_took_it_over_after_the_home_introduced_it() -> None:
    # Posts only. delta first knew gamma2 through beta's relay in beta's channel (owned by beta there), then from
    # gamma itself in delta's channel, so gamma took gamma2 over on delta; beta's relays of gamma2's next posts
    # then needed a membership on delta that gamma (membership sync off) never sent: refused for ever (run n1).
    # tests/cluster/test_shared_mesh_member_sync.py has the same path with three servers.
    state = SyncMachine()
    state.init(extra=374, n=4, chans=[(729, 14), (691, 13)], configs=[45, 33, 30, 42, 55])
    state.post(priority='urgent', reply=386, size=5000, where=825, who=81)
    state.post(priority='', reply=196, size=0, where=301, who=278)
    state.post(priority='important', reply=747, size=0, where=148, who=758)
    state.post(priority='', reply=689, size=500, where=25, who=281)
    state.post(priority='important', reply=137, size=5000, where=436, who=564)
    state.post(priority='urgent', reply=586, size=0, where=600, who=85)
    state.post(priority='urgent', reply=149, size=50000, where=763, who=304)
    state.post(priority='', reply=574, size=50000, where=128, who=504)
    state.post(priority='important', reply=21, size=500, where=80, who=189)
    state.post(priority='important', reply=1000, size=0, where=135, who=124)
    state.post(priority='important', reply=203, size=500, where=645, who=345)
    state.post(priority='important', reply=260, size=0, where=392, who=17)
    state.post(priority='', reply=222, size=50000, where=848, who=560)
    state.post(priority='important', reply=333, size=5000, where=115, who=7)
    state.post(priority='urgent', reply=555, size=0, where=273, who=808)
    state.post(priority='', reply=844, size=0, where=827, who=401)
    state.post(priority='', reply=594, size=0, where=502, who=159)
    state.post(priority='urgent', reply=346, size=5000, where=0, who=256)
    state.post(priority='important', reply=242, size=0, where=251, who=83)
    state.post(priority='important', reply=158, size=50000, where=8, who=187)
    state.post(priority='urgent', reply=253, size=50000, where=756, who=764)
    state.post(priority='', reply=65, size=50000, where=8, who=257)
    state.post(priority='', reply=279, size=50000, where=168, who=218)
    state.post(priority='urgent', reply=592, size=50000, where=940, who=0)
    state.teardown()
