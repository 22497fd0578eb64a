// The channel sidebar: team switcher, channels (public and private), direct messages, unread counts,
// shared icons. One Tab stop per list; arrow keys move inside it.

import { h, icon, resetRoving, rovingFocus } from "../dom.js";
import { channelLabel, currentTeam, state, unreadCount } from "../store.js";
import { browseChannelsDialog, directMessageDialog } from "./browse.js";
import { channelIcon } from "./channel.js";

export function channelPath(channel) {
  const team = currentTeam();
  return `/${encodeURIComponent(team.name)}/channels/${encodeURIComponent(channel.name)}`;
}

export class Sidebar {
  constructor(app) {
    this.app = app;
    this.activeId = "";
    this.teams = h("nav", { class: "team-switcher", "aria-label": "Teams" });
    this.channels = h("ul", { class: "channel-list", "aria-labelledby": "side-channels" });
    this.dms = h("ul", { class: "channel-list", "aria-labelledby": "side-dms" });
    rovingFocus(this.channels, "a");
    rovingFocus(this.dms, "a");
    rovingFocus(this.teams, "a");
    const browse = h("button", { type: "button", class: "icon-button", "aria-label": "Browse channels",
      title: "Browse channels", onclick: () => browseChannelsDialog(app) }, icon("plus"));
    const newDm = h("button", { type: "button", class: "icon-button", "aria-label": "Write a direct message",
      title: "Write a direct message", onclick: () => directMessageDialog(app) }, icon("plus"));
    this.teamName = h("h2", { class: "team-name" });
    this.teamButtons = [browse, newDm];
    this.el = h("nav", { class: "sidebar", id: "sidebar", "aria-label": "Channels" },
      this.teams,
      h("div", { class: "sidebar-inner" },
        this.teamName,
        h("div", { class: "side-section" },
          h("div", { class: "side-heading" }, h("h3", { id: "side-channels" }, "Channels"), browse), this.channels),
        h("div", { class: "side-section" },
          h("div", { class: "side-heading" }, h("h3", { id: "side-dms" }, "Direct messages"), newDm), this.dms)));
  }

  render() {
    const team = currentTeam();
    this.teamName.textContent = team ? team.display_name : "";
    // Channels and direct messages live in a team: without one there is nothing to browse yet.
    for (const b of this.teamButtons) b.disabled = !team;
    this.teams.hidden = state.teams.length < 2;
    this.teams.replaceChildren(...state.teams.map((t) => {
      const current = t.id === state.teamId;
      return h("a", { href: `/${encodeURIComponent(t.name)}`, "data-nav": true, class: "team-button",
        "aria-current": current ? "page" : undefined, title: t.display_name, "aria-label": t.display_name },
      h("span", { "aria-hidden": "true" }, t.display_name.slice(0, 2)));
    }));
    resetRoving(this.teams, "a", "[aria-current]");
    const all = [...state.channels.values()].sort((a, b) => channelLabel(a).localeCompare(channelLabel(b)));
    this.fill(this.channels, all.filter((c) => c.type === "O" || c.type === "P"), "No channels yet");
    this.fill(this.dms, all.filter((c) => c.type === "D" || c.type === "G"), "No direct messages yet");
  }

  fill(list, channels, empty) {
    if (!channels.length) {
      list.replaceChildren(h("li", { class: "side-empty" }, empty));
      return;
    }
    list.replaceChildren(...channels.map((c) => this.item(c)));
    resetRoving(list, "a", "[aria-current]");
  }

  item(c) {
    const unread = c.id === this.activeId ? 0 : unreadCount(c);
    const mentions = c.id === this.activeId ? 0 : state.members.get(c.id)?.mention_count || 0;
    const other = c.type === "D" ? state.users.get(c.name.split("__").find((id) => id !== state.me.id)) : null;
    const kind = c.shared ? "shared channel" : c.type === "P" ? "private channel" : c.type === "O" ? "public channel" : "";
    return h("li", {},
      h("a", { href: channelPath(c), "data-nav": true, dataset: { channelId: c.id },
        class: `channel-link ${unread ? "unread" : ""}`, "aria-current": c.id === this.activeId ? "page" : undefined,
        onclick: () => this.app.closeDrawer() },
      channelIcon(c),
      h("span", { class: "channel-name" }, channelLabel(c)),
      other?.remote_id ? h("span", { class: "badge badge-external" }, "external") : null,
      kind ? h("span", { class: "visually-hidden" }, `, ${kind}`) : null,
      unread ? h("span", { class: `unread-count ${mentions ? "mention" : ""}` },
        h("span", { "aria-hidden": "true" }, mentions || unread),
        h("span", { class: "visually-hidden" }, mentions ? `, ${mentions} mentions` : `, ${unread} unread`)) : null));
  }

  setActive(id) {
    this.activeId = id;
    this.render();
  }
}
