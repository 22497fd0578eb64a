// Dialogs from the sidebar: browse and join (or create) channels; start a direct message.

import { api } from "../api.js";
import { announce, h } from "../dom.js";
import { refreshChannel, state } from "../store.js";
import { errorBox, field, openDialog } from "../ui.js";
import { inWords } from "../errors.js";

export async function browseChannelsDialog(app) {
  const list = h("ul", { class: "pick-list", "aria-label": "Channels you can join" },
    h("li", { class: "muted" }, "Loading…"));
  const err = errorBox();
  const name = h("input", { type: "text", maxlength: 64, autocomplete: "off" });
  const priv = h("input", { type: "checkbox" });
  const create = h("button", { type: "submit", class: "btn btn-primary" }, "Create channel");
  const form = h("form", { class: "inline-form", "aria-label": "Create a channel" },
    field("New channel name", name), field("Private", priv), create);
  const dlg = openDialog({ title: "Browse channels", wide: true,
    body: [err.el, list, h("h3", {}, "Create a channel"), form] });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.clear();
    const display = name.value.trim();
    if (!display) { err.show("Give the channel a name."); name.focus(); return; }
    const slug = display.toLowerCase().replace(/[^a-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60) ||
      `channel-${Date.now().toString(36)}`;
    try {
      const c = await api.post("/channels", { team_id: state.teamId, name: slug, display_name: display,
        type: priv.checked ? "P" : "O" });
      await refreshChannel(c.id);
      dlg.close();
      app.goToChannel(c);
    } catch (e) { err.show(inWords(e, "create channels in this team")); }
  });
  try {
    const channels = await api.get(`/teams/${state.teamId}/channels?per_page=200`);
    const joinable = channels.filter((c) => !state.channels.has(c.id) && !c.delete_at);
    list.replaceChildren(...(joinable.length ? joinable.map((c) => h("li", {},
      h("span", { class: "pick-name" }, c.display_name, c.shared ? h("span", { class: "badge" }, "shared") : null),
      c.purpose ? h("span", { class: "muted" }, c.purpose) : null,
      h("button", { type: "button", class: "btn btn-small", "aria-label": `Join ${c.display_name}`, onclick: async () => {
        try {
          await api.post(`/channels/${c.id}/members`, { user_id: state.me.id });
          const joined = await refreshChannel(c.id);
          dlg.close();
          announce(`Joined ${c.display_name}`);
          if (joined) app.goToChannel(joined);
        } catch (e) { err.show(inWords(e, "join this channel")); }
      } }, "Join"))) : [h("li", { class: "muted" }, "You are in every public channel of this team.")]));
    list.querySelector("button")?.focus();
  } catch (e) {
    list.replaceChildren();
    err.show(inWords(e, "list this team's channels"));
  }
}

export function directMessageDialog(app) {
  const input = h("input", { type: "search", autocomplete: "off", "aria-controls": "dm-results" });
  const results = h("ul", { class: "pick-list", id: "dm-results", "aria-label": "People", "aria-live": "polite" });
  const err = errorBox();
  const dlg = openDialog({ title: "Direct message", body: [err.el, field("Find people", input), results] });
  let timer = null;
  async function search() {
    const term = input.value.trim();
    if (!term) { results.replaceChildren(); return; }
    try {
      // Anyone on the server, as Mattermost's default (RestrictDirectMessage "any"): people of connected
      // workspaces brought by global user sync belong to no team here.
      const users = await api.post("/users/search", { term, limit: 20 });
      const people = users.filter((u) => u.id !== state.me.id);
      // A remote person can be messaged only when this server shares DMs with their workspace: ask, and say
      // why not next to a disabled button (the server's words: what is off, or which workspace is not connected).
      const verdicts = await Promise.all(people.map((u) => (u.remote_id
        ? api.get(`/sharedchannels/users/${state.me.id}/can_dm/${u.id}`).catch(() => ({ can_dm: true }))
        : { can_dm: true })));
      results.replaceChildren(...people.map((u, i) => {
        const allowed = verdicts[i].can_dm !== false;
        const why = allowed ? null : h("span", { class: "muted dm-why", id: `dm-why-${u.id}` },
          verdicts[i].isthmus_reason || "Direct messages with people on other workspaces are not available here.");
        return h("li", {},
          h("span", { class: "pick-name" }, u.username,
            u.remote_id ? h("span", { class: "badge badge-external" }, "external") : null),
          why,
          h("button", { type: "button", class: "btn btn-small", "aria-label": `Message ${u.username}`,
            disabled: allowed ? null : true, "aria-describedby": allowed ? null : `dm-why-${u.id}`,
            title: allowed ? null : why.textContent, onclick: async () => {
              try {
                state.users.set(u.id, u);
                const c = await api.post("/channels/direct", [state.me.id, u.id]);
                await refreshChannel(c.id);
                dlg.close();
                app.goToChannel(state.channels.get(c.id) || c);
              } catch (e) { err.show(inWords(e, "message this person")); }
            } }, "Message"));
      }));
      if (!results.childElementCount) results.append(h("li", { class: "muted" }, "Nobody found."));
    } catch (e) { err.show(inWords(e, "search for people")); }
  }
  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(search, 250); });
}
