// System Console › User Management › Users: list (paged), search, create, deactivate or activate, make or
// remove system admin, reset a password.

import { api, query } from "../api.js";
import { announce, h } from "../dom.js";
import { inWords } from "../errors.js";
import { state } from "../store.js";
import { confirmDialog, errorBox, field, menuButton, openDialog } from "../ui.js";

export const PER_PAGE = 20;

// "Previous / Page n / Next" under a list; `hasMore` says whether a next page exists.
export function pager(page, hasMore, go, label) {
  if (page === 0 && !hasMore) return null;
  return h("nav", { class: "pager", "aria-label": `${label} pages` },
    h("button", { type: "button", class: "btn btn-small", disabled: page === 0, onclick: () => go(page - 1) }, "Previous"),
    h("span", { class: "muted" }, `Page ${page + 1}`),
    h("button", { type: "button", class: "btn btn-small", disabled: !hasMore, onclick: () => go(page + 1) }, "Next"));
}

const isSysAdmin = (u) => (u.roles || "").split(" ").includes("system_admin");

export class UsersPage {
  constructor() {
    this.page = 0;
    this.term = "";
    this.err = errorBox();
    this.status = h("p", { class: "list-status", role: "status" }, "Loading users…");
    this.slot = h("div", { class: "table-wrap" });
    const search = h("input", { type: "search", autocomplete: "off", placeholder: "Username, name or email" });
    let timer = null;
    search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => { this.term = search.value.trim(); this.load(0); }, 250);
    });
    const create = h("button", { type: "button", class: "btn btn-primary", onclick: () => this.createDialog() },
      "Create user");
    this.el = h("div", {},
      h("div", { class: "page-head" }, h("h1", {}, "Users"), create),
      h("p", { class: "lead" }, "Everyone with an account on this workspace. People from connected workspaces ",
        "are shown with their workspace after the name."),
      h("section", { class: "card", "aria-label": "Users" }, field("Search users", search), this.err.el, this.status,
        this.slot));
  }

  async load(page = this.page) {
    this.page = page;
    this.err.clear();
    let found;
    let hasMore;
    try {
      if (this.term) {
        // Search answers up to its limit at once: page through it here.
        const all = await api.post("/users/search", { term: this.term, allow_inactive: true, limit: 200 });
        found = all.slice(page * PER_PAGE, (page + 1) * PER_PAGE);
        hasMore = all.length > (page + 1) * PER_PAGE;
      } else {
        found = await api.get(`/users${query({ page, per_page: PER_PAGE + 1 })}`);
        hasMore = found.length > PER_PAGE;
        found = found.slice(0, PER_PAGE);
      }
    } catch (e) {
      this.status.textContent = "";
      this.err.show(`Could not load users: ${inWords(e, "list users")}`);
      return;
    }
    this.status.textContent = found.length ? "" : this.term ? "Nobody matches that search." : "No users.";
    this.slot.replaceChildren(found.length ? this.table(found) : "",
      pager(page, hasMore, (p) => this.load(p), "Users") || "");
  }

  table(users) {
    return h("table", { class: "table users" },
      h("caption", { class: "visually-hidden" }, "Users"),
      h("thead", {}, h("tr", {}, ["User", "Email", "Role", "Status", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, users.map((u) => h("tr", {},
        h("th", { scope: "row" }, u.username, u.remote_id ? h("span", { class: "badge badge-external" }, "external") : null),
        h("td", { "data-label": "Email" }, u.email || "—"),
        h("td", { "data-label": "Role" }, isSysAdmin(u) ? "System admin" : "Member"),
        h("td", { "data-label": "Status" }, u.delete_at ? "Deactivated" : "Active"),
        h("td", { "data-label": "Actions" }, u.remote_id ? "—" : this.menu(u))))));
  }

  menu(u) {
    const self = u.id === state.me.id;
    return menuButton(`Actions for ${u.username}`, () => [
      self ? null : isSysAdmin(u) ?
        { label: "Remove system admin", action: () => this.setRoles(u, "system_user") } :
        { label: "Make system admin", action: () => this.setRoles(u, "system_user system_admin") },
      { label: "Reset password", action: () => this.passwordDialog(u) },
      self ? null : u.delete_at ? { label: "Activate", action: () => this.setActive(u, true) } :
        { label: "Deactivate", danger: true, action: () => this.setActive(u, false) },
    ]);
  }

  async setRoles(u, roles) {
    try {
      await api.put(`/users/${u.id}/roles`, { roles });
      announce(roles.includes("system_admin") ? `${u.username} is now a system admin` :
        `${u.username} is no longer a system admin`);
      await this.load();
    } catch (e) { this.err.show(`Could not change ${u.username}'s role: ${inWords(e, "change roles")}`); }
  }

  async setActive(u, active) {
    if (!active) {
      const ok = await confirmDialog({ title: `Deactivate ${u.username}?`, confirmLabel: "Deactivate", danger: true,
        message: `${u.username} is logged out and can no longer log in. Their messages stay. You can activate ` +
          "the account again later." });
      if (!ok) return;
    }
    try {
      await api.put(`/users/${u.id}/active`, { active });
      announce(`${u.username} ${active ? "activated" : "deactivated"}`);
      await this.load();
    } catch (e) { this.err.show(`Could not change ${u.username}: ${inWords(e, "deactivate users")}`); }
  }

  passwordDialog(u) {
    const pw = h("input", { type: "password", autocomplete: "new-password" });
    const err = errorBox();
    const save = h("button", { type: "submit", class: "btn btn-primary" }, "Reset password");
    const form = h("form", { class: "stack", novalidate: true }, err.el,
      field("New password", pw, { required: true, help: `Tell ${u.username} the new password in person or by phone.` }),
      h("div", { class: "dialog-actions" }, save));
    const dlg = openDialog({ title: `Reset the password of ${u.username}`, body: form });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      err.clear();
      if (!pw.value) { err.show("Enter the new password."); pw.focus(); return; }
      try {
        await api.put(`/users/${u.id}/password`, { new_password: pw.value });
        dlg.close();
        announce(`Password of ${u.username} reset`);
      } catch (e) { err.show(inWords(e, "reset passwords")); }
    });
  }

  createDialog() {
    const username = h("input", { type: "text", autocomplete: "off", autocapitalize: "none", spellcheck: "false" });
    const email = h("input", { type: "email", autocomplete: "off" });
    const pw = h("input", { type: "password", autocomplete: "new-password" });
    const admin = h("input", { type: "checkbox" });
    const err = errorBox();
    const save = h("button", { type: "submit", class: "btn btn-primary" }, "Create user");
    const form = h("form", { class: "stack", novalidate: true }, err.el,
      field("Username", username, { required: true, help: "Lowercase letters, digits, '.', '-' and '_'." }),
      field("Email", email, { required: true }), field("Password", pw, { required: true }),
      field("System admin", admin, { help: "Can open this System Console and change everything." }),
      h("div", { class: "dialog-actions" }, save));
    const dlg = openDialog({ title: "Create a user", body: form });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      err.clear();
      const missing = [[username, "a username"], [email, "an email address"], [pw, "a password"]]
        .find(([el]) => !el.value.trim());
      if (missing) { err.show(`Enter ${missing[1]}.`); missing[0].focus(); return; }
      save.disabled = true;
      try {
        const u = await api.post("/users", { username: username.value.trim(), email: email.value.trim(),
          password: pw.value });
        if (admin.checked) await api.put(`/users/${u.id}/roles`, { roles: "system_user system_admin" });
        dlg.close();
        announce(`User ${u.username} created`);
        await this.load(0);
      } catch (e) {
        save.disabled = false;
        err.show(inWords(e, "create users"));
      }
    });
  }
}
