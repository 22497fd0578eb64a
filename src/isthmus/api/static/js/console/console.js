// System Console → Environment → Connected Workspaces: the list of connections with their status, the
// "Add a connection" menu, per-row actions, and the ConnectedWorkspacesSettings switches.

import { api } from "../api.js";
import { announce, fmtAgo, fmtDateTime, h, icon } from "../dom.js";
import { can, state } from "../store.js";
import { confirmDialog, menuButton, statusDot } from "../ui.js";
import { ConnectionDetail } from "./detail.js";
import { acceptInviteDialog, createConnectionDialog, regenerateInvite } from "./dialogs.js";
import { allTeams, connectionStatus, fmtLag, inviteAccepted, syncMetrics } from "./model.js";
import { renderSettings } from "./settings.js";

const REFRESH_MS = 15000;
const FAST_REFRESH_MS = 2000;

export class ConsoleApp {
  constructor({ navigate, logout }) {
    this.navigate = navigate;
    this.timer = null;
    this.main = h("main", { id: "main", class: "console-main", tabindex: "-1" });
    const nav = h("nav", { class: "console-nav", "aria-label": "System Console" },
      h("h2", {}, "Environment"),
      h("ul", {}, h("li", {}, h("a", { href: "/console/connected-workspaces", "data-nav": true,
        "aria-current": "page" }, "Connected Workspaces"))));
    this.el = h("div", { class: "console-app" },
      h("header", { class: "topbar" },
        h("a", { href: "/", "data-nav": true, class: "btn btn-small" }, icon("back"), " Back to chat"),
        h("span", { class: "brand" }, "System Console"),
        h("span", { class: "me" }, `@${state.me.username}`),
        h("button", { type: "button", class: "btn btn-small", onclick: logout }, "Log out")),
      h("div", { class: "console-body" }, nav, this.main));
  }

  allowed() {
    if (can("manage_secure_connections")) return true;
    this.main.replaceChildren(h("div", { class: "empty-state" }, h("h1", {}, "Not allowed"),
      h("p", {}, "Only system admins and people with the manage_secure_connections permission can manage connected workspaces.")));
    return false;
  }

  async showList() {
    this.stop();
    if (!this.allowed()) return;
    document.title = "Connected Workspaces · System Console";
    const table = h("div", { class: "table-wrap" });
    const status = h("p", { class: "list-status", role: "status" }, "Loading connections…");
    const add = menuButton("Add a connection", () => [
      { label: "Create a connection", action: () => createConnectionDialog(() => this.refresh()) },
      { label: "Accept an invitation", action: () => acceptInviteDialog((rc) => this.refresh(rc)) },
    ], { iconName: "plus", text: "Add a connection" });
    this.listBody = table;
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
    await this.refresh();
    this.main.focus();
  }

  // Poll: every 15 s, or every 2 s while a just-accepted connection waits for its first ping.
  schedule(conns) {
    clearTimeout(this.timer);
    const waiting = conns.some((rc) => inviteAccepted(rc) && !rc.last_ping_at);
    this.timer = setTimeout(() => this.refresh({ quiet: true }), waiting ? FAST_REFRESH_MS : REFRESH_MS);
  }

  async refresh(arg = {}) {
    const quiet = arg && arg.quiet;
    if (quiet && (this.listBody.contains(document.activeElement) || document.querySelector("dialog[open]"))) {
      // Never redraw under someone using a row menu or a dialog; try again shortly.
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.refresh({ quiet: true }), FAST_REFRESH_MS);
      return;
    }
    let conns;
    try {
      conns = await api.get("/remotecluster?per_page=200");
      if (this.listBody.isConnected) this.schedule(conns);
    } catch (err) {
      this.listBody.replaceChildren();
      this.listStatus.textContent = err.status === 501 ?
        "Connected workspaces are turned off on this server. Turn on “Enable connected workspaces” below." :
        `Could not load connections: ${err.message}`;
      return;
    }
    const [teams, metrics] = await Promise.all([allTeams(), syncMetrics()]);
    const teamName = new Map(teams.map((t) => [t.id, t.display_name]));
    this.listStatus.textContent = conns.length ? `${conns.length} connection${conns.length === 1 ? "" : "s"}` :
      "No connections yet. Use “Add a connection” to create one or to accept an invitation.";
    const focusedRow = document.activeElement?.closest?.("tr")?.dataset.remoteId;
    this.listBody.replaceChildren(conns.length ? this.table(conns, teamName, metrics) : "");
    if (focusedRow && !quiet) {
      this.listBody.querySelector(`tr[data-remote-id="${CSS.escape(focusedRow)}"] a`)?.focus();
    }
  }

  table(conns, teamName, metrics) {
    const now = Date.now();
    const head = ["Workspace", "Status", "Last ping", "Invite accepted", "Destination team", "Sync lag",
      "Last sync error", "Actions"];
    return h("table", { class: "table connections" },
      h("caption", { class: "visually-hidden" }, "Connected workspaces"),
      h("thead", {}, h("tr", {}, head.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, conns.map((rc) => {
        const st = connectionStatus(rc, now);
        const m = metrics[rc.remote_id] || {};
        const name = rc.display_name || rc.name;
        return h("tr", { dataset: { remoteId: rc.remote_id } },
          h("th", { scope: "row" }, h("a", { href: `/console/connected-workspaces/${rc.remote_id}`, "data-nav": true },
            name), h("div", { class: "muted small" }, rc.name)),
          h("td", { "data-label": "Status" }, statusDot(st.kind, st.label)),
          h("td", { "data-label": "Last ping" }, rc.last_ping_at ?
            h("time", { datetime: new Date(rc.last_ping_at).toISOString(), title: fmtDateTime(rc.last_ping_at) },
              fmtAgo(rc.last_ping_at, now)) : "Never"),
          h("td", { "data-label": "Invite accepted" }, inviteAccepted(rc) ? "Yes" : "No"),
          h("td", { "data-label": "Destination team" }, teamName.get(rc.default_team_id) || "—"),
          h("td", { "data-label": "Sync lag" }, m.queue ? `${fmtLag(m.lagSeconds)} (${m.queue} queued)` :
            fmtLag(m.lagSeconds)),
          h("td", { "data-label": "Last sync error", class: "error-cell" }, m.lastError ?
            h("span", { title: m.lastErrorAt ? fmtDateTime(m.lastErrorAt) : "" }, m.lastError) : "None"),
          h("td", { "data-label": "Actions" }, menuButton(`More actions for ${name}`, () => [
            { label: "Edit", action: () => this.navigate(`/console/connected-workspaces/${rc.remote_id}`) },
            { label: "Shared channels",
              action: () => this.navigate(`/console/connected-workspaces/${rc.remote_id}?tab=channels`) },
            inviteAccepted(rc) ? null : { label: "Regenerate invitation code", action: () => this.regenerate(rc) },
            { label: "Delete", danger: true, action: () => this.remove(rc) },
          ])));
      })));
  }

  async regenerate(rc) {
    try {
      await regenerateInvite(rc, () => this.refresh());
    } catch (err) {
      announce(`Could not regenerate the invitation: ${err.message}`, { assertive: true });
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
      announce(`Could not delete: ${err.message}`, { assertive: true });
    }
  }

  async showDetail(remoteId) {
    this.stop();
    if (!this.allowed()) return;
    const tab = new URLSearchParams(location.search).get("tab") === "channels" ? 1 : 0;
    const detail = new ConnectionDetail(remoteId, this, tab);
    this.main.replaceChildren(detail.el);
    await detail.load();
    this.main.focus();
  }

  stop() { clearTimeout(this.timer); }
  destroy() { this.stop(); }
}
