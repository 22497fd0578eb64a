// "Share with workspaces" from the channel's own header (Mattermost v11.5+, issue 15 item 7a): a system admin,
// or a channel admin holding the shared channel manager role, chooses which connected workspaces share this
// channel. The server checks the same rules; this only decides whether to offer the button.

import { api, query } from "../api.js";
import { announce, h } from "../dom.js";
import { inWords } from "../errors.js";
import { can, invalidateShare, state } from "../store.js";
import { errorBox, field, openDialog } from "../ui.js";

export function canShareHere(channel, info) {
  if (channel.type !== "O" && channel.type !== "P") return false;
  if (info?.share && !info.share.home) return false; // a copy: only its home shares it further
  if (!can("manage_shared_channels")) return false;
  const roles = (state.members.get(channel.id)?.roles || "").split(" ");
  return can("manage_system") || roles.includes("channel_admin");
}

export async function openShareDialog(channel, onDone) {
  const err = errorBox();
  const body = h("div", { class: "stack" }, err.el, h("p", { class: "list-status", role: "status" }, "Loading…"));
  const save = h("button", { type: "button", class: "btn btn-primary" }, "Save");
  const cancel = h("button", { type: "button", class: "btn", onclick: () => dlg.close() }, "Cancel");
  const dlg = openDialog({ title: `Share ${channel.display_name || channel.name}`, body, actions: [cancel, save] });
  let connections = [];
  let current = new Set();
  try {
    const [all, shared] = await Promise.all([
      api.get(`/remotecluster${query({ only_confirmed: true, exclude_plugins: true })}`),
      channel.shared ? api.get(`/sharedchannels/${channel.id}/remotes`) : Promise.resolve([]),
    ]);
    connections = all.sort((a, b) => (a.display_name || a.name).localeCompare(b.display_name || b.name));
    current = new Set(shared.map((r) => r.remote_id));
  } catch (e) {
    body.replaceChildren(err.el);
    err.show(`Could not load the connected workspaces: ${inWords(e, "share channels")}`);
    save.disabled = true;
    return;
  }
  const boxes = connections.map((rc) => [rc, h("input", { type: "checkbox", checked: current.has(rc.remote_id) })]);
  const group = h("fieldset", { class: "stack" }, h("legend", {}, "Share with these workspaces"),
    boxes.length ? boxes.map(([rc, box]) => field(rc.display_name || rc.name, box))
      : h("p", {}, "There are no connected workspaces yet. A system admin adds them in the System Console."));
  body.replaceChildren(err.el, group);
  save.addEventListener("click", async () => {
    err.clear();
    save.disabled = true;
    const done = [];
    try {
      for (const [rc, box] of boxes) {
        const name = rc.display_name || rc.name;
        if (box.checked && !current.has(rc.remote_id)) {
          await api.post(`/remotecluster/${rc.remote_id}/channels/${channel.id}/invite`, {});
          done.push(`shared with ${name}`);
        } else if (!box.checked && current.has(rc.remote_id)) {
          await api.post(`/remotecluster/${rc.remote_id}/channels/${channel.id}/uninvite`, {});
          done.push(`no longer shared with ${name}`);
        }
      }
      dlg.close();
      if (done.length) announce(`Channel ${done.join(", ")}`);
      invalidateShare(channel);
      if (onDone) onDone();
    } catch (e) {
      err.show(`Could not change the sharing: ${inWords(e, "share this channel")}`);
      save.disabled = false;
    }
  });
}
