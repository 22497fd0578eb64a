// System Console › User Management › Teams: list (paged), create, and per team its invite link and members
// (paged, add by username, remove).

import { api, query } from "../api.js";
import { announce, h, icon } from "../dom.js";
import { inWords } from "../errors.js";
import { teamSlug } from "../chat/teams.js";
import { copyButton, errorBox, field, openDialog } from "../ui.js";
import { PER_PAGE, pager } from "./users.js";

export const inviteLink = (team) => `${location.origin}/signup_user_complete/?id=${encodeURIComponent(team.invite_id)}`;

export class TeamsPage {
  constructor() {
    this.page = 0;
    this.err = errorBox();
    this.status = h("p", { class: "list-status", role: "status" }, "Loading teams…");
    this.slot = h("div", { class: "table-wrap" });
    this.el = h("div", {},
      h("div", { class: "page-head" }, h("h1", {}, "Teams"),
        h("button", { type: "button", class: "btn btn-primary", onclick: () => this.createDialog() }, "Create team")),
      h("p", { class: "lead" }, "Teams hold channels and their members. Send a team's invite link to let people ",
        "sign up straight into it."),
      h("section", { class: "card", "aria-label": "Teams" }, this.err.el, this.status, this.slot));
  }

  async load(page = this.page) {
    this.page = page;
    let res;
    try {
      res = await api.get(`/teams${query({ page, per_page: PER_PAGE, include_total_count: true })}`);
    } catch (e) {
      this.status.textContent = "";
      this.err.show(`Could not load teams: ${inWords(e, "list teams")}`);
      return;
    }
    const teams = res.teams;
    this.status.textContent = `${res.total_count} team${res.total_count === 1 ? "" : "s"}`;
    this.slot.replaceChildren(teams.length ? h("table", { class: "table teams" },
      h("caption", { class: "visually-hidden" }, "Teams"),
      h("thead", {}, h("tr", {}, ["Team", "URL", "Who can join", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, teams.map((t) => h("tr", {},
        h("th", { scope: "row" }, h("a", { href: `/console/teams/${t.id}`, "data-nav": true }, t.display_name)),
        h("td", { "data-label": "URL" }, `/${t.name}`),
        h("td", { "data-label": "Who can join" }, t.allow_open_invite ? "Anyone on this server" : "Invited people"),
        h("td", { "data-label": "Actions" }, h("a", { href: `/console/teams/${t.id}`, "data-nav": true,
          class: "btn btn-small", "aria-label": `Members of ${t.display_name}` }, "Members")))))) : "",
    pager(page, (page + 1) * PER_PAGE < res.total_count, (p) => this.load(p), "Teams") || "");
  }

  createDialog() {
    const name = h("input", { type: "text", maxlength: 64, autocomplete: "off" });
    const url = h("input", { type: "text", maxlength: 64, autocomplete: "off", spellcheck: "false" });
    const open = h("input", { type: "checkbox", checked: true });
    let edited = false;
    name.addEventListener("input", () => { if (!edited) url.value = teamSlug(name.value); });
    url.addEventListener("input", () => { edited = true; });
    const err = errorBox();
    const save = h("button", { type: "submit", class: "btn btn-primary" }, "Create team");
    const form = h("form", { class: "stack", novalidate: true }, err.el,
      field("Team name", name, { required: true }), field("Team URL", url, { required: true }),
      field("Anyone on this server can join", open), h("div", { class: "dialog-actions" }, save));
    const dlg = openDialog({ title: "Create a team", body: form });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      err.clear();
      if (!name.value.trim()) { err.show("Give the team a name."); name.focus(); return; }
      try {
        await api.post("/teams", { name: url.value || teamSlug(name.value), display_name: name.value.trim(),
          type: open.checked ? "O" : "I" });
        dlg.close();
        announce(`Team ${name.value.trim()} created`);
        await this.load(0);
      } catch (e) { err.show(inWords(e, "create teams")); }
    });
  }
}

export class TeamPage {
  constructor(teamId) {
    this.teamId = teamId;
    this.page = 0;
    this.err = errorBox();
    this.el = h("div", {}, h("p", { class: "list-status", role: "status" }, "Loading…"));
  }

  async load() {
    try {
      this.team = await api.get(`/teams/${this.teamId}`);
    } catch (e) {
      this.el.replaceChildren(h("p", { class: "error-box", role: "alert" }, `Could not load the team: ${inWords(e, "see this team")}`),
        h("a", { href: "/console/teams", "data-nav": true }, "Back to Teams"));
      return;
    }
    const t = this.team;
    document.title = `${t.display_name} · Teams`;
    const link = h("input", { type: "text", readonly: true, class: "invite-link", value: inviteLink(t) });
    const username = h("input", { type: "text", autocomplete: "off", autocapitalize: "none", spellcheck: "false" });
    const add = h("form", { class: "inline-form", "aria-label": "Add a member" }, field("Username", username),
      h("button", { type: "submit", class: "btn btn-primary" }, "Add member"));
    add.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      this.err.clear();
      const name = username.value.trim().replace(/^@/, "");
      if (!name) { this.err.show("Enter the username of the person to add."); username.focus(); return; }
      try {
        const u = await api.get(`/users/username/${encodeURIComponent(name)}`);
        await api.post(`/teams/${t.id}/members`, { team_id: t.id, user_id: u.id });
        username.value = "";
        announce(`${u.username} added to ${t.display_name}`);
        await this.loadMembers(this.page);
      } catch (e) {
        this.err.show(e.status === 404 ? `There is no user named ${name}.` : inWords(e, "add people to this team"));
      }
    });
    this.status = h("p", { class: "list-status", role: "status" });
    this.slot = h("div", { class: "table-wrap" });
    this.el.replaceChildren(
      h("nav", { "aria-label": "Breadcrumb", class: "breadcrumb" },
        h("a", { href: "/console/teams", "data-nav": true }, icon("back"), " Teams")),
      h("div", { class: "page-head" }, h("h1", {}, t.display_name)),
      h("section", { class: "card", "aria-labelledby": "invite-h" }, h("h2", { id: "invite-h" }, "Invite link"),
        h("p", { class: "muted" }, "Whoever opens this link can create an account and join the team, even when ",
          "open sign-up is turned off. Share it only with the people you mean."),
        h("div", { class: "field" }, h("label", { for: "invite-link" }, "Invite link"),
          Object.assign(link, { id: "invite-link" }),
          h("div", { class: "field-actions" }, copyButton(() => link.value, "Copy invite link")))),
      h("section", { class: "card", "aria-labelledby": "members-h" }, h("h2", { id: "members-h" }, "Members"),
        this.err.el, add, this.status, this.slot));
    await this.loadMembers(0);
  }

  async loadMembers(page) {
    this.page = page;
    let members;
    let people;
    try {
      members = await api.get(`/teams/${this.teamId}/members${query({ page, per_page: PER_PAGE + 1 })}`);
      people = members.length ? await api.post("/users/ids", members.slice(0, PER_PAGE).map((m) => m.user_id)) : [];
    } catch (e) {
      this.err.show(`Could not load the members: ${inWords(e, "see this team's members")}`);
      return;
    }
    const hasMore = members.length > PER_PAGE;
    members = members.slice(0, PER_PAGE);
    const byId = new Map(people.map((u) => [u.id, u]));
    this.status.textContent = members.length ? "" : "Nobody is in this team yet.";
    this.slot.replaceChildren(members.length ? h("table", { class: "table members" },
      h("caption", { class: "visually-hidden" }, "Members"),
      h("thead", {}, h("tr", {}, ["Member", "Team role", "Actions"].map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, members.map((m) => {
        const u = byId.get(m.user_id);
        const label = u ? u.username : "Unknown user";
        return h("tr", {}, h("th", { scope: "row" }, label),
          h("td", { "data-label": "Team role" }, (m.roles || "").includes("team_admin") ? "Team admin" : "Member"),
          h("td", { "data-label": "Actions" }, h("button", { type: "button", class: "btn btn-small btn-danger",
            "aria-label": `Remove ${label} from the team`, onclick: () => this.remove(m, label) }, "Remove")));
      }))) : "", pager(page, hasMore, (p) => this.loadMembers(p), "Members") || "");
  }

  async remove(m, label) {
    try {
      await api.del(`/teams/${this.teamId}/members/${m.user_id}`);
      announce(`${label} removed from ${this.team.display_name}`);
      await this.loadMembers(this.page);
    } catch (e) { this.err.show(`Could not remove ${label}: ${inWords(e, "remove people from this team")}`); }
  }
}
