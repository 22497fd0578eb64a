// One connection: edit its organization name and destination team, and (tab "Shared channels") add or
// remove the channels shared with it, read-only or not.

import { api, query } from "../api.js";
import { announce, fmtDateTime, fmtSize, h, icon, replace } from "../dom.js";
import { inWords } from "../errors.js";
import { confirmDialog, errorBox, field, flashStatus, openDialog, statusDot, tabs } from "../ui.js";
import { regenerateInvite } from "./dialogs.js";
import { allTeams, connectionStatus, inviteAccepted, problemText, sharedChannelsOn, syncMetrics, syncProblem,
  teamSelect } from "./model.js";

const PROFILE_FIELDS = [["share_email", "Email address"], ["share_full_name", "Full name"],
  ["share_nickname", "Nickname"], ["share_position", "Position"]];

// Our extra fields on GET /remotecluster/{id} (issue 13): what this workspace announced it accepts, and the
// items it did not accept (files over its limits, items it refused), with the latest reasons in words.
function limitsText(lim) {
  if (!lim) return "Not announced (files over its limits are found out when sent)";
  if (!lim.enable_file_attachments) return "Does not accept file attachments";
  return `Accepts files up to ${fmtSize(lim.max_file_size)}`;
}

function notDelivered(nd) {
  if (!nd || !nd.count) return "Nothing: every item was accepted";
  return h("div", { class: "not-delivered-box" },
    h("p", { class: "not-delivered-count" }, `${nd.count} ${nd.count === 1 ? "item" : "items"} not delivered`),
    h("ul", { class: "not-delivered", "aria-label": "Most recent items not delivered" },
      (nd.recent || []).map((r) => h("li", {}, `${fmtDateTime(r.create_at)}: ${r.message}`))));
}

export class ConnectionDetail {
  constructor(remoteId, consoleApp, tab) {
    this.remoteId = remoteId;
    this.app = consoleApp;
    this.tab = tab;
    this.el = h("div", { class: "detail" }, h("p", { class: "list-status", role: "status" }, "Loading…"));
  }

  async load() {
    try {
      [this.rc, this.teams] = await Promise.all([api.get(`/remotecluster/${this.remoteId}`), allTeams()]);
      const [metrics, sharedOn] = await Promise.all([syncMetrics(), sharedChannelsOn()]);
      this.problem = syncProblem(this.rc, metrics[this.remoteId] || {}, { sharedOn });
    } catch (err) {
      this.el.replaceChildren(h("p", { class: "error-box", role: "alert" },
        `Could not load the connection: ${inWords(err, "manage connected workspaces")}`),
        h("a", { href: "/console/connected-workspaces", "data-nav": true }, "Back to Connected Workspaces"));
      return;
    }
    const rc = this.rc;
    const st = connectionStatus(rc);
    const name = rc.display_name || rc.name;
    document.title = `${name} · Connected Workspaces`;
    const t = tabs([
      { id: "details", label: "Details", render: (panel) => this.renderDetails(panel) },
      { id: "channels", label: "Shared channels", render: (panel) => this.renderChannels(panel) },
    ], { label: `${name} settings`, selected: this.tab });
    this.el.replaceChildren(
      h("nav", { "aria-label": "Breadcrumb", class: "breadcrumb" },
        h("a", { href: "/console/connected-workspaces", "data-nav": true }, icon("back"), " Connected Workspaces")),
      h("div", { class: "page-head" }, h("h1", {}, name), statusDot(st.kind, st.label)),
      h("dl", { class: "facts" },
        h("dt", {}, "Connection name"), h("dd", {}, rc.name),
        h("dt", {}, "Site URL"), h("dd", {}, inviteAccepted(rc) ? rc.site_url : "Waiting for the invitation to be accepted"),
        h("dt", {}, "Last ping"), h("dd", {}, fmtDateTime(rc.last_ping_at)),
        h("dt", {}, "Created"), h("dd", {}, fmtDateTime(rc.create_at)),
        h("dt", {}, "Limits"), h("dd", {}, limitsText(rc.isthmus_limits)),
        h("dt", {}, "Not delivered"), h("dd", {}, notDelivered(rc.isthmus_not_delivered)),
        h("dt", {}, "Last sync error"), this.problemDd = h("dd", { class: "sync-problem" }, problemText(this.problem))),
      t.el);
  }

  renderDetails(panel) {
    const rc = this.rc;
    const orgName = h("input", { type: "text", maxlength: 64, value: rc.display_name || rc.name });
    const team = teamSelect(this.teams, rc.default_team_id);
    // Our extra fields (issue 15 item 8b): which profile fields this server sends to the workspace.
    const policy = PROFILE_FIELDS.map(([key, label]) => [key, label,
      h("input", { type: "checkbox", name: key, checked: Boolean(rc[key]) })]);
    const policyBox = h("fieldset", { class: "stack" },
      h("legend", {}, "Profile fields sent to this workspace"),
      policy.map(([, label, input]) => field(label, input)),
      h("p", { class: "help" }, "Usernames and pictures are always sent. Email is sent only if you check it."));
    const err = errorBox();
    const saved = h("span", { class: "saved", role: "status" });
    const save = h("button", { type: "submit", class: "btn btn-primary" }, "Save");
    const form = h("form", { class: "stack", novalidate: true }, err.el,
      field("Organization name", orgName, { required: true }),
      field("Destination team", team, { required: true, help: "Where channels shared by this workspace are added." }),
      policyBox,
      h("div", { class: "form-actions" }, save, saved,
        inviteAccepted(rc) ? null : h("button", { type: "button", class: "btn", onclick: () => this.regenerate() },
          "Regenerate invitation code"),
        h("button", { type: "button", class: "btn btn-danger", onclick: () => this.app.remove(rc) }, "Delete connection")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      err.clear();
      saved.textContent = "";
      if (!orgName.value.trim()) { err.show("Enter the organization name."); orgName.focus(); return; }
      save.disabled = true;
      try {
        const shares = Object.fromEntries(policy.map(([key, , input]) => [key, input.checked]));
        this.rc = await api.patch(`/remotecluster/${rc.remote_id}`, { display_name: orgName.value.trim(),
          default_team_id: team.value, ...shares });
        flashStatus(saved, "Saved.");
        announce("Connection saved");
        this.el.querySelector(".page-head h1").textContent = this.rc.display_name || this.rc.name;
      } catch (e) {
        err.show(`Could not save: ${inWords(e, "manage connected workspaces")}`);
      } finally {
        save.disabled = false;
      }
    });
    panel.replaceChildren(form);
  }

  async regenerate() {
    try {
      await regenerateInvite(this.rc, () => {});
    } catch (err) {
      announce(`Could not regenerate the invitation: ${inWords(err, "manage connected workspaces")}`, { assertive: true });
    }
  }

  async renderChannels(panel) {
    this.status = h("p", { class: "list-status", role: "status" }, "Loading shared channels…");
    this.channelErr = errorBox();
    this.tableSlot = h("div", { class: "table-wrap" });
    this.addButton = h("button", { type: "button", class: "btn btn-primary",
      onclick: () => this.addDialog(() => this.refreshChannels()) }, icon("plus"), " Add channels");
    panel.replaceChildren(h("div", { class: "page-head" }, h("h2", {}, "Channels shared with this workspace"),
      this.addButton), this.channelErr.el, this.status, this.tableSlot);
    await this.refreshChannels();
  }

  async refreshChannels() {
    clearTimeout(this.pollTimer);
    const slot = this.tableSlot;
    const accepted = inviteAccepted(this.rc);
    this.addButton.disabled = !accepted;
    let ours;
    let theirs;
    try {
      [ours, theirs] = await Promise.all([
        api.get(`/remotecluster/${this.remoteId}/sharedchannelremotes${query({ include_unconfirmed: true,
          exclude_remote: true, per_page: 200 })}`),
        api.get(`/remotecluster/${this.remoteId}/sharedchannelremotes${query({ exclude_home: true, per_page: 200 })}`),
      ]);
    } catch (e) {
      this.status.textContent = e.status === 501 || e.status === 404 ?
        "Shared channels are not available: turn on “Enable shared channels” in the settings." :
        `Could not load shared channels: ${inWords(e, "manage connected workspaces")}`;
      this.addButton.disabled = true;
      return;
    }
    const rows = await this.describe([...ours.map((r) => ({ ...r, home: true })),
      ...theirs.map((r) => ({ ...r, home: false }))]);
    if (!slot.isConnected) return;
    this.sharedIds = new Set(rows.filter((r) => !r.delete_at).map((r) => r.channel_id));
    this.status.textContent = accepted ? (rows.length ? "" : "No channels are shared with this workspace yet.") :
      "Channels can be shared once the invitation has been accepted.";
    const focused = slot.contains(document.activeElement) ? document.activeElement.getAttribute("aria-label") : null;
    slot.replaceChildren(rows.length ? this.channelTable(rows) : "");
    if (focused) slot.querySelector(`[aria-label="${CSS.escape(focused)}"]`)?.focus();
    // An invitation is confirmed by the other side in a moment: show it without a reload.
    if (rows.some((r) => !r.is_invite_confirmed)) {
      this.pollTimer = setTimeout(async () => {
        if (!this.tableSlot.isConnected) return;
        const [metrics, sharedOn] = await Promise.all([syncMetrics(), sharedChannelsOn()]);
        this.problem = syncProblem(this.rc, metrics[this.remoteId] || {}, { sharedOn });
        replace(this.problemDd, problemText(this.problem));
        this.refreshChannels();
      }, 1000);
    }
  }

  channelTable(rows) {
    return h("table", { class: "table" },
      h("caption", { class: "visually-hidden" }, "Shared channels"),
      h("thead", {}, h("tr", {}, ["Channel", "Team", "Shared by", "Access", "State", "Actions"]
        .map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows.map((r) => h("tr", {},
        h("th", { scope: "row" }, r.name),
        h("td", { "data-label": "Team" }, r.team),
        h("td", { "data-label": "Shared by" }, r.home ? "This workspace" : this.rc.display_name || this.rc.name),
        h("td", { "data-label": "Access" }, r.readonly ? "Read-only" : "Read and write"),
        h("td", { "data-label": "State" }, r.is_invite_confirmed ? "Active" :
          this.problem && !this.problem.resolvedAt ? `Not shared yet: ${this.problem.text}` :
            "Waiting for the other side"),
        h("td", { "data-label": "Actions" }, r.home ? h("button", { type: "button", class: "btn btn-small btn-danger",
          "aria-label": `Stop sharing ${r.name}`, onclick: () => this.unshare(r) }, "Remove") : "—")))));
  }

  // Channel names, teams and read-only flags for SharedChannelRemote rows.
  async describe(rows) {
    const teamName = new Map(this.teams.map((t) => [t.id, t.display_name]));
    const shares = new Map();
    const out = await Promise.all(rows.map(async (r) => {
      let channel = null;
      try { channel = await api.get(`/channels/${r.channel_id}`); } catch { /* listed by id below */ }
      const teamId = channel?.team_id || "";
      if (teamId && !shares.has(teamId)) {
        shares.set(teamId, api.get(`/sharedchannels/${teamId}?per_page=200`).catch(() => []));
      }
      const share = teamId ? (await shares.get(teamId)).find((s) => s.id === r.channel_id) : null;
      return { ...r, name: channel ? channel.display_name : "A channel you cannot open", team: teamName.get(teamId) || "—",
        readonly: Boolean(share?.readonly) };
    }));
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async unshare(row) {
    const ok = await confirmDialog({ title: `Stop sharing ${row.name}?`, confirmLabel: "Stop sharing", danger: true,
      message: `${row.name} stops synchronizing with ${this.rc.display_name || this.rc.name}.` });
    if (!ok) return;
    try {
      await api.post(`/remotecluster/${this.remoteId}/channels/${row.channel_id}/uninvite`);
      announce(`${row.name} is no longer shared`);
      await this.refreshChannels();
      this.addButton.focus(); // the row (and its button) is gone
    } catch (e) {
      this.channelErr.show(`Could not stop sharing: ${inWords(e, "manage connected workspaces")}`);
    }
  }

  addDialog(after) {
    const team = teamSelect(this.teams, this.rc.default_team_id);
    const list = h("fieldset", { class: "pick-list checks" }, h("legend", {}, "Channels"));
    const readonly = h("input", { type: "checkbox" });
    const err = errorBox();
    const share = h("button", { type: "submit", class: "btn btn-primary" }, "Share");
    const cancel = h("button", { type: "button", class: "btn", onclick: () => dlg.close() }, "Cancel");
    const form = h("form", { class: "stack", novalidate: true }, err.el, field("Team", team), list,
      field("Read-only", readonly, { help: "Members of the other workspace can read but not post or react." }),
      h("div", { class: "dialog-actions" }, cancel, share));
    const dlg = openDialog({ title: `Share channels with ${this.rc.display_name || this.rc.name}`, body: form,
      wide: true });
    let shown = "";
    const fill = async () => {
      if (team.value === shown) return; // unchanged: keep what was ticked
      shown = team.value;
      const teamId = team.value;
      list.replaceChildren(h("legend", {}, "Channels"), h("p", { class: "muted" }, "Loading…"));
      try {
        const [pub, priv, shares] = await Promise.all([
          api.get(`/teams/${teamId}/channels?per_page=200`),
          api.get(`/teams/${teamId}/channels/private?per_page=200`).catch(() => []),
          api.get(`/sharedchannels/${teamId}?per_page=200`).catch(() => []),
        ]);
        if (teamId !== team.value) return; // the team was changed again meanwhile
        const homedElsewhere = new Set(shares.filter((sc) => !sc.home).map((sc) => sc.id));
        const channels = [...pub, ...priv].filter((c) => !c.delete_at)
          .sort((a, b) => a.display_name.localeCompare(b.display_name));
        list.replaceChildren(h("legend", {}, "Channels"), ...channels.map((c) => {
          // A channel shared with us cannot be shared on, and one already shared here needs nothing.
          const note = homedElsewhere.has(c.id) ? " (shared from another workspace)" :
            this.sharedIds?.has(c.id) ? " (already shared)" : c.shared ? " (shared)" : "";
          return field(`${c.display_name}${c.type === "P" ? " (private)" : ""}${note}`,
            h("input", { type: "checkbox", name: "channel", value: c.id,
              disabled: homedElsewhere.has(c.id) || this.sharedIds?.has(c.id) }));
        }));
        if (!channels.length) list.append(h("p", { class: "muted" }, "This team has no channels."));
      } catch (e) { err.show(inWords(e, "manage connected workspaces")); }
    };
    team.addEventListener("change", fill);
    if (team.value) fill();
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      err.clear();
      const ids = [...list.querySelectorAll("input[name=channel]:checked")].map((i) => i.value);
      if (!ids.length) { err.show("Select at least one channel."); return; }
      share.disabled = true;
      const failed = [];
      for (const id of ids) {
        try {
          await api.post(`/remotecluster/${this.remoteId}/channels/${id}/invite`, { readonly: readonly.checked });
        } catch (e) {
          const label = list.querySelector(`input[value="${CSS.escape(id)}"]`)?.labels?.[0]?.textContent || id;
          failed.push(`${label}: ${inWords(e, "manage connected workspaces")}`);
        }
      }
      share.disabled = false;
      if (failed.length) {
        err.show(`Some channels were not shared. ${failed.join(" ")}`);
        return;
      }
      announce(`${ids.length} channel${ids.length === 1 ? "" : "s"} shared`);
      dlg.close();
      after();
    });
  }
}
