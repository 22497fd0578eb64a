// First run and people without a team: create a team (name → URL, as Mattermost's flow) or join an open
// one. Either lands in the team's Town Square.

import { api, query } from "../api.js";
import { announce, h } from "../dom.js";
import { inWords } from "../errors.js";
import { bootstrap, can, state } from "../store.js";
import { errorBox, field } from "../ui.js";

const PER_PAGE = 20;

export function teamSlug(displayName) {
  const slug = displayName.toLowerCase().normalize("NFKD").replace(/[^a-z0-9-]+/g, "-")
    .replace(/^[^a-z]+|-+$/g, "").slice(0, 64).replace(/-+$/, "");
  return slug.length >= 2 ? slug : "";
}

// Open teams to join come first when there are any; otherwise, for whoever may create teams (every
// account, by Mattermost's default roles), the create form is the page.
export function noTeamView(app) {
  const canCreate = can("create_team");
  const heading = h("h1", {}, "Welcome");
  const lead = h("p", {}, "Loading teams…");
  const el = h("div", { class: "empty-state first-run" }, heading, lead);
  const join = joinableTeams(app, canCreate, (count) => {
    join.hidden = !count;
    if (count) {
      heading.textContent = "Join a team";
      lead.textContent = canCreate ? "Join one of these teams, or create a new one below." :
        "Join one of these teams.";
      if (canCreate) el.append(createTeamForm(app, "Or create a team"));
    } else if (canCreate) {
      heading.textContent = "Create your first team";
      lead.textContent = "Teams hold channels and the people in them. Create one to start; you can invite " +
        "people and connect other workspaces afterwards.";
      el.append(createTeamForm(app, "Create a team"));
    } else {
      heading.textContent = "You are not in a team yet";
      lead.textContent = "Ask an administrator to add you to a team, or to send you a team's invite link.";
    }
  });
  join.hidden = true; // until we know whether there is any
  el.append(join);
  return el;
}

async function enter(app, team) {
  await bootstrap();
  app.sidebar.render();
  app.navigate(`/${encodeURIComponent(team.name)}/channels/town-square`);
}

function createTeamForm(app, title) {
  const name = h("input", { type: "text", name: "team-name", maxlength: 64, autocomplete: "off" });
  const url = h("input", { type: "text", name: "team-url", maxlength: 64, autocomplete: "off", spellcheck: "false" });
  const err = errorBox();
  let urlEdited = false;
  name.addEventListener("input", () => { if (!urlEdited) url.value = teamSlug(name.value); });
  url.addEventListener("input", () => { urlEdited = true; });
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Create team");
  const form = h("form", { class: "card stack", "aria-labelledby": "create-team-h", novalidate: true },
    h("h2", { id: "create-team-h" }, title), err.el,
    field("Team name", name, { required: true, help: "How the team is shown, for example “Acme Support”." }),
    field("Team URL", url, { required: true,
      help: `The team's address: ${location.host}/<team URL>. Lowercase letters, digits and '-'.` }),
    h("div", { class: "form-actions" }, submit));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.clear();
    const display = name.value.trim();
    if (!display) { err.show("Give the team a name."); name.focus(); return; }
    if (!url.value) url.value = teamSlug(display);
    if (!/^[a-z][a-z0-9-]{1,63}$/.test(url.value)) {
      err.show("The team URL must be 2 to 64 lowercase letters, digits or '-', starting with a letter.");
      url.focus();
      return;
    }
    submit.disabled = true;
    try {
      const team = await api.post("/teams", { name: url.value, display_name: display, type: "O" });
      announce(`Team ${display} created`);
      await enter(app, team);
    } catch (e) {
      err.show(inWords(e, "create teams"));
      submit.disabled = false;
    }
  });
  queueMicrotask(() => name.focus());
  return form;
}

function joinableTeams(app, canCreate, onFirstPage) {
  const list = h("ul", { class: "pick-list", "aria-label": "Teams you can join" }, h("li", { class: "muted" }, "Loading…"));
  const err = errorBox();
  const more = h("button", { type: "button", class: "btn btn-small", hidden: true }, "Show more teams");
  const section = h("section", { class: "card", "aria-labelledby": "join-team-h" },
    h("h2", { id: "join-team-h" }, "Teams you can join"), err.el, list, more);
  let page = 0;
  const mine = new Set(state.teams.map((t) => t.id));
  const load = async () => {
    try {
      const teams = await api.get(`/teams${query({ page, per_page: PER_PAGE })}`);
      if (page === 0) list.replaceChildren();
      const open = teams.filter((t) => !mine.has(t.id) && !t.delete_at);
      list.append(...open.map((t) => h("li", {},
        h("span", { class: "pick-name" }, t.display_name),
        t.description ? h("span", { class: "muted" }, t.description) : null,
        h("button", { type: "button", class: "btn btn-small", "aria-label": `Join ${t.display_name}`,
          onclick: async () => {
            err.clear();
            try {
              await api.post(`/teams/${t.id}/members`, { team_id: t.id, user_id: state.me.id });
              announce(`Joined ${t.display_name}`);
              await enter(app, t);
            } catch (e) { err.show(inWords(e, "join this team")); }
          } }, "Join"))));
      more.hidden = teams.length < PER_PAGE;
      if (page === 0) onFirstPage(list.childElementCount);
      if (!list.childElementCount) list.append(h("li", { class: "muted" }, "There are no teams to join."));
    } catch (e) {
      list.replaceChildren();
      err.show(inWords(e, "list teams"));
      if (page === 0) onFirstPage(0);
    }
  };
  more.addEventListener("click", () => { page += 1; load(); });
  load();
  return section;
}
