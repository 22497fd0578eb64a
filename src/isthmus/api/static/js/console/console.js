// System Console → Environment → Connected Workspaces: the list of connections with their status, the
// "Add a connection" menu, per-row actions, and the ConnectedWorkspacesSettings switches.

import { api } from "../api.js";
import { announce, fmtAgo, fmtDateTime, h, icon, replace } from "../dom.js";
import { inWords } from "../errors.js";
import { can, state } from "../store.js";
import { confirmDialog, menuButton, statusDot } from "../ui.js";
import { ConnectionDetail } from "./detail.js";
import { acceptInviteDialog, createConnectionDialog, regenerateInvite } from "./dialogs.js";
import { allTeams, connectionStatus, fmtLag, inviteAccepted, problemText, sharedChannelsOn, syncMetrics,
  syncProblem } from "./model.js";
import { renderSettings } from "./settings.js";

const REFRESH_MS = 15000;
const FAST_REFRESH_MS = 2000;

export class ConsoleApp {
  constructor({ navigate, logout }) {
    this.navigate = navigate;
    this.timer = null;
    this.main = h("main", { id: "main", class: "console-main", tabindex: "-1" });
    const link = (href, text) => h("li", {}, h("a", { href, "data-nav": true }, text));
    this.nav = h("nav", { class: "console-nav", "aria-label": "System Console" },
      h("h2", {}, "User Management"),
      h("ul", {}, link("/console/users", "Users"), link("/console/teams", "Teams")),
      h("h2", {}, "Site"),
      h("ul", {}, link("/console/site", "Site and sign-up")),
      h("h2", {}, "Environment"),
      h("ul", {}, link("/console/connected-workspaces", "Connected Workspaces")));
    const nav = this.nav;
    this.el = h("div", { class: "console-app" },
      h("header", { class: "topbar" },
        h("a", { href: "/", "data-nav": true, class: "btn btn-small" }, icon("back"), " Back to chat"),
        h("span", { class: "brand" }, "System Console"),
        h("span", { class: "me" }, `@${state.me.username}`),
        h("button", { type: "button", class: "btn btn-small", onclick: logout }, "Log out")),
      h("div", { class: "console-body" }, nav, this.main));
  }

  // Marks the nav entry of the page shown (its path prefix) as the current page.
  current(prefix) {
    for (const a of this.nav.querySelectorAll("a")) {
      if (a.getAttribute("href") === prefix) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
  }

  // Users, teams and site settings are system-admin pages (manage_system).
  async showPage(prefix, title, page) {
    this.stop();
    this.current(prefix);
    if (!can("manage_system")) {
      this.main.replaceChildren(h("div", { class: "empty-state" }, h("h1", {}, "Not allowed"),
        h("p", {}, "Only system admins can manage users, teams and the site settings.")));
      return;
    }
    document.title = `${title} · System Console`;
    this.main.replaceChildren(page.el);
    this.focusMain();
    await page.load();
  }

  allowed() {
    if (can("manage_secure_connections")) return true;
    this.main.replaceChildren(h("div", { class: "empty-state" }, h("h1", {}, "Not allowed"),
      h("p", {}, "Only system admins and people with the manage_secure_connections permission can manage ",
        "connected workspaces.")));
    return false;
  }

  async showList() {
    this.stop();
    this.current("/console/connected-workspaces");
    if (!this.allowed()) return;
    document.title = "Connected Workspaces · System Console";
    const table = h("div", { class: "table-wrap" });
    const status = h("p", { class: "list-status", role: "status" }, "Loading connections…");
    const add = menuButton("Add a connection", () => [
      { label: "Create a connection", action: () => createConnectionDialog(() => this.refresh()) },
      { label: "Accept an invitation", action: () => acceptInviteDialog((rc) => this.refresh(rc)) },
    ], { iconName: "plus", text: "Add a connection" });
    this.listBody = table;
    this.tbody = null;
    this.listStatus = status;
    const settings = h("section", { class: "card", "aria-labelledby": "cw-settings" });
    this.main.replaceChildren(
      h("div", { class: "page-head" }, h("h1", {}, "Connected Workspaces"), add),
      h("p", { class: "lead" }, "Connect with other workspaces to share channels with them. ",
        "Messages, reactions and files in shared channels are synchronized between the workspaces."),
      h("section", { class: "card", "aria-labelledby": "cw-list" },
        h("h2", { id: "cw-list" }, "Connections"), status, table),
      settings);
    renderSettings(settings, () => this.refresh());
    this.focusMain();
    await this.refresh();
  }

  // A new page moves focus to its main region, unless the person already moved it somewhere in there.
  focusMain() {
    if (!this.main.contains(document.activeElement) || document.activeElement === this.main) this.main.focus();
  }

  // Poll: every 15 s, or every 2 s while a just-accepted connection waits for its first ping.
  schedule(conns) {
    clearTimeout(this.timer);
    const waiting = conns.some((rc) => inviteAccepted(rc) && !rc.last_ping_at);
    this.timer = setTimeout(() => this.refresh(), waiting ? FAST_REFRESH_MS : REFRESH_MS);
  }

  async refresh() {
    const seq = (this.seq = (this.seq || 0) + 1); // only the latest refresh may draw
    let conns;
    try {
      conns = await api.get("/remotecluster?per_page=200");
      if (seq !== this.seq) return;
      if (this.listBody.isConnected) this.schedule(conns);
    } catch (err) {
      if (seq !== this.seq) return;
      this.dropTable();
      this.listStatus.textContent = err.status === 501 ?
        "Connected workspaces are turned off on this server. Turn on “Enable connected workspaces” below." :
        `Could not load connections: ${inWords(err, "manage connected workspaces")}`;
      return;
    }
    const [teams, metrics, sharedOn] = await Promise.all([allTeams(), syncMetrics(), sharedChannelsOn()]);
    this.sharedOn = sharedOn;
    if (seq !== this.seq) return;
    const teamName = new Map(teams.map((t) => [t.id, t.display_name]));
    this.listStatus.textContent = conns.length ? `${conns.length} connection${conns.length === 1 ? "" : "s"}` :
      "No connections yet. Use “Add a connection” to create one or to accept an invitation.";
    if (conns.length) this.updateTable(conns, teamName, metrics);
    else this.dropTable();
    // While a problem shows, look again soon: its end (the peer fixed it) should not wait 15 s.
    const open = conns.some((rc) => {
      const p = syncProblem(rc, metrics[rc.remote_id] || {}, { sharedOn });
      return p && !p.resolvedAt;
    });
    if (open && this.listBody.isConnected) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.refresh(), FAST_REFRESH_MS);
    }
  }

  dropTable() {
    this.listBody.replaceChildren();
    this.tbody = null;
    this.rows = new Map();
  }

  // Rows are updated in place (keyed by connection id), so a refresh never pulls an open row menu
  // or the focused control out from under the person using it.
  updateTable(conns, teamName, metrics) {
    if (!this.tbody || !this.listBody.contains(this.tbody)) {
      const head = ["Workspace", "Status", "Last ping", "Invite accepted", "Destination team", "Sync lag",
        "Last sync error", "Not delivered", "Actions"];
      this.tbody = h("tbody");
      this.rows = new Map();
      this.listBody.replaceChildren(h("table", { class: "table connections" },
        h("caption", { class: "visually-hidden" }, "Connected workspaces"),
        h("thead", {}, h("tr", {}, head.map((t) => h("th", { scope: "col" }, t)))), this.tbody));
    }
    const now = Date.now();
    const seen = new Set();
    conns.forEach((rc, i) => {
      seen.add(rc.remote_id);
      let row = this.rows.get(rc.remote_id);
      if (!row) {
        row = this.makeRow(rc);
        this.rows.set(rc.remote_id, row);
      }
      row.rc = rc;
      this.fillRow(row, teamName, metrics[rc.remote_id] || {}, now);
      if (this.tbody.children[i] !== row.tr) this.tbody.insertBefore(row.tr, this.tbody.children[i] || null);
    });
    for (const [rid, row] of this.rows) {
      if (!seen.has(rid)) {
        row.tr.remove();
        this.rows.delete(rid);
      }
    }
  }

  makeRow(rc) {
    const row = { rc, cells: {} };
    const cell = (key, label, cls) => (row.cells[key] = h("td", { "data-label": label, class: cls }));
    row.link = h("a", { href: `/console/connected-workspaces/${rc.remote_id}`, "data-nav": true });
    row.slug = h("div", { class: "muted small" });
    // The menu is built when opened, from the row's latest data.
    row.menu = menuButton("More actions", () => {
      const current = row.rc;
      return [
        { label: "Edit", action: () => this.navigate(`/console/connected-workspaces/${current.remote_id}`) },
        { label: "Shared channels",
          action: () => this.navigate(`/console/connected-workspaces/${current.remote_id}?tab=channels`) },
        inviteAccepted(current) ? null :
          { label: "Regenerate invitation code", action: () => this.regenerate(current) },
        { label: "Delete", danger: true, action: () => this.remove(current) },
      ];
    });
    row.tr = h("tr", { dataset: { remoteId: rc.remote_id } },
      h("th", { scope: "row" }, row.link, row.slug),
      cell("status", "Status"), cell("ping", "Last ping"), cell("accepted", "Invite accepted"),
      cell("team", "Destination team"), cell("lag", "Sync lag"), cell("error", "Last sync error", "error-cell"),
      cell("refused", "Not delivered"),
      h("td", { "data-label": "Actions" }, row.menu));
    return row;
  }

  fillRow(row, teamName, m, now) {
    const rc = row.rc;
    const name = rc.display_name || rc.name;
    const st = connectionStatus(rc, now);
    row.link.textContent = name;
    row.slug.textContent = rc.name;
    const label = `More actions for ${name}`;
    for (const el of [row.menu.querySelector("button"), row.menu.querySelector("[role=menu]")]) {
      el.setAttribute("aria-label", label);
    }
    row.menu.querySelector("button").title = label;
    const c = row.cells;
    replace(c.status, statusDot(st.kind, st.label));
    replace(c.ping, rc.last_ping_at ?
      h("time", { datetime: new Date(rc.last_ping_at).toISOString(), title: fmtDateTime(rc.last_ping_at) },
        fmtAgo(rc.last_ping_at, now)) : "Never");
    c.accepted.textContent = inviteAccepted(rc) ? "Yes" : "No";
    c.team.textContent = teamName.get(rc.default_team_id) || "—";
    const problem = syncProblem(rc, m, { sharedOn: this.sharedOn !== false });
    const blocked = problem && !problem.resolvedAt;
    c.lag.textContent = blocked ? "Not syncing (see the error)" :
      m.queue ? `${fmtLag(m.lagSeconds)} (${m.queue} queued)` : fmtLag(m.lagSeconds);
    // Items this workspace did not accept (files over its limits, refused items): the reasons are on its page.
    const refused = rc.isthmus_not_delivered?.count || 0;
    replace(c.refused, refused ? h("a", { href: `/console/connected-workspaces/${rc.remote_id}`, "data-nav": true },
      `${refused} ${refused === 1 ? "item" : "items"} not delivered`) : "None");
    replace(c.error, problemText(problem));
  }

  async regenerate(rc) {
    try {
      await regenerateInvite(rc, () => this.refresh());
    } catch (err) {
      announce(`Could not regenerate the invitation: ${inWords(err, "manage connected workspaces")}`, { assertive: true });
    }
  }

  async remove(rc) {
    const name = rc.display_name || rc.name;
    const ok = await confirmDialog({ title: `Delete ${name}?`, confirmLabel: "Delete connection", danger: true,
      message: `Deleting the connection with ${name} ends the trust between the two workspaces: channels shared ` +
        "with it stop synchronizing. To connect again, a new invitation is needed." });
    if (!ok) return;
    try {
      await api.del(`/remotecluster/${rc.remote_id}`);
      announce(`Connection with ${name} deleted`);
      if (location.pathname !== "/console/connected-workspaces") this.navigate("/console/connected-workspaces");
      else await this.refresh();
    } catch (err) {
      announce(`Could not delete: ${inWords(err, "manage connected workspaces")}`, { assertive: true });
    }
  }

  async showDetail(remoteId) {
    this.stop();
    this.current("/console/connected-workspaces");
    if (!this.allowed()) return;
    const tab = new URLSearchParams(location.search).get("tab") === "channels" ? 1 : 0;
    const detail = new ConnectionDetail(remoteId, this, tab);
    this.main.replaceChildren(detail.el);
    this.focusMain();
    await detail.load();
  }

  stop() { clearTimeout(this.timer); }
  destroy() { this.stop(); }
}
