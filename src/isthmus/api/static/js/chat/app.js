// The chat screen: top bar (menu on phones, search, console link, log out), sidebar, the open
// channel and the right-hand panel; it routes websocket events to whichever views are open.

import { api } from "../api.js";
import { rememberEmoji } from "../custom_emoji.js";
import { announce, h, icon } from "../dom.js";
import { can, channelLabel, currentTeam, events, invalidateShare, loadTeam, refreshChannel, state } from "../store.js";
import { confirmDialog } from "../ui.js";
import { ChannelView } from "./channel.js";
import { Reminders } from "./reminders.js";
import { SearchView, ThreadView } from "./rhs.js";
import { Sidebar, channelPath } from "./sidebar.js";
import { noTeamView } from "./teams.js";

export class ChatApp {
  constructor({ socket, navigate, logout }) {
    this.socket = socket;
    this.navigate = navigate;
    this.sidebar = new Sidebar(this);
    this.view = null;
    this.rhs = null;
    this.viewTimer = null;
    const search = h("input", { type: "search", name: "terms", placeholder: "Search messages",
      "aria-label": "Search messages", autocomplete: "off" });
    const searchForm = h("form", { class: "search-form", role: "search" }, search,
      h("button", { type: "submit", class: "icon-button", "aria-label": "Search" }, icon("search")));
    searchForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (search.value.trim()) this.openRhs(new SearchView(search.value.trim(), this));
    });
    this.menuButton = h("button", { type: "button", class: "icon-button drawer-toggle", "aria-label": "Channels",
      "aria-expanded": "false", "aria-controls": "sidebar", onclick: () => this.toggleDrawer() }, icon("menu"));
    this.connection = h("span", { class: "conn-state", role: "status" });
    const consoleLink = can("manage_secure_connections") ?
      h("a", { href: "/console/connected-workspaces", "data-nav": true, class: "btn btn-small" }, "System Console") : null;
    const logoutBtn = h("button", { type: "button", class: "btn btn-small", onclick: logout }, "Log out");
    this.header = h("header", { class: "topbar" }, this.menuButton,
      h("span", { class: "brand" }, "Isthmus"), searchForm, this.connection,
      h("span", { class: "me" }, `@${state.me.username}`), consoleLink, logoutBtn);
    this.main = h("main", { id: "main", class: "chat-main", tabindex: "-1" });
    this.rhsSlot = h("div", { class: "rhs-slot" });
    this.scrim = h("div", { class: "scrim", onclick: () => this.closeDrawer() });
    this.reminders = new Reminders(this);
    this.el = h("div", { class: "chat-app" }, this.header, this.reminders.el,
      h("div", { class: "chat-body" }, this.sidebar.el, this.scrim, this.main, this.rhsSlot));
    this.el.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && this.rhs && this.rhsSlot.contains(document.activeElement)) this.closeRhs();
      else if (ev.key === "Escape" && this.el.classList.contains("drawer-open")) this.closeDrawer();
    });
    this.unsubs = [
      events.on("channels", () => this.sidebar.render()),
      socket.on("connection", (up) => {
        this.connection.textContent = up ? "" : "Reconnecting…";
        this.connection.classList.toggle("offline", !up);
      }),
      socket.on("posted", (d) => this.onPosted(d.post)),
      // Only this user sees it (e.g. "Error sending channel invite for …" when a workspace refused a shared DM).
      socket.on("ephemeral_message", (d) => this.onEphemeral(d.post)),
      socket.on("post_edited", (d) => this.forViews((v) => v.onEdited(d.post))),
      socket.on("post_deleted", (d) => this.onDeleted(d.post)),
      socket.on("reaction_added", (d) => this.forViews((v) => v.onReaction(d.reaction, true))),
      socket.on("reaction_removed", (d) => this.forViews((v) => v.onReaction(d.reaction, false))),
      socket.on("post_acknowledgement_added", (d) => this.forViews((v) => v.onAck?.(d.acknowledgement, true))),
      socket.on("post_acknowledgement_removed", (d) => this.forViews((v) => v.onAck?.(d.acknowledgement, false))),
      // Only this user gets it: an urgent message that named them is still unanswered (persistent notifications).
      socket.on("persistent_notification_triggered", (d) => this.reminders.show(d)),
      socket.on("typing", (d, b) => {
        if (this.view && b.channel_id === this.view.channel.id) this.view.onTyping(d.user_id, d.parent_id);
      }),
      socket.on("channel_viewed", (d) => this.onViewed(d.channel_id)),
      socket.on("channel_updated", (d) => this.onChannelUpdated(d.channel)),
      socket.on("channel_created", (d) => refreshChannel(d.channel_id)),
      socket.on("channel_deleted", (d, b) => this.onChannelGone(d.channel_id || b.channel_id)),
      socket.on("direct_added", (d, b) => refreshChannel(b.channel_id)),
      socket.on("group_added", (d, b) => refreshChannel(b.channel_id)),
      socket.on("user_added", (d, b) => { if (d.user_id === state.me.id) refreshChannel(b.channel_id); }),
      socket.on("user_removed", (d, b) => {
        if ((b.user_id === state.me.id || d.user_id === state.me.id) && d.channel_id) this.onChannelGone(d.channel_id);
      }),
      socket.on("emoji_added", (d) => rememberEmoji(d.emoji)),
      socket.on("user_updated", (d) => { if (d.user) state.users.set(d.user.id, d.user); }),
      socket.on("resync", () => this.resync()),
    ];
  }

  forViews(fn) {
    if (this.view) fn(this.view);
    if (this.rhs) fn(this.rhs);
    fn(this.reminders);
  }

  async showTeam(teamName, channelName) {
    const team = state.teams.find((t) => t.name === teamName) || state.teams[0];
    if (!team) {
      this.view?.destroy();
      this.view = null;
      this.sidebar.render();
      this.main.replaceChildren(noTeamView(this));
      document.title = "Welcome · Isthmus";
      return;
    }
    if (team.id !== state.teamId) {
      await loadTeam(team.id);
      this.closeRhs();
    }
    const channels = [...state.channels.values()];
    let channel = channels.find((c) => c.name === channelName);
    if (!channel) {
      channel = channels.find((c) => c.name === "town-square") || channels.find((c) => c.type === "O") || channels[0];
      if (channel) this.navigate(channelPath(channel), { replace: true });
      else this.sidebar.render();
      return;
    }
    if (this.view && this.view.channel.id === channel.id && team.name === teamName) return;
    this.openChannel(channel);
  }

  openChannel(channel) {
    const prev = this.view?.channel.id || "";
    this.view?.destroy();
    this.view = new ChannelView(channel, this);
    this.main.replaceChildren(this.view.el);
    this.sidebar.setActive(channel.id);
    document.title = `${channelLabel(channel)} · ${currentTeam()?.display_name || "Isthmus"}`;
    this.prevChannel = prev;
    this.view.load().then(() => this.view?.channel.id === channel.id && this.view.focus());
    announce(`${channelLabel(channel)} opened`);
  }

  goToChannel(channel) { this.navigate(channelPath(channel)); }

  openThread(rootId) { this.openRhs(new ThreadView(rootId, this)); }

  openRhs(view) {
    this.rhs?.destroy();
    this.rhs = view;
    this.rhsSlot.replaceChildren(view.el);
    this.el.classList.add("rhs-open");
    view.load().then(() => { if (this.rhs === view) view.focus(); });
  }

  closeRhs() {
    if (!this.rhs) return;
    this.rhs.destroy();
    this.rhs = null;
    this.rhsSlot.replaceChildren();
    this.el.classList.remove("rhs-open");
    this.view?.focus();
  }

  async jumpTo(post) {
    const channel = state.channels.get(post.channel_id);
    if (!channel) return;
    if (this.view?.channel.id !== channel.id) this.goToChannel(channel);
    this.openThread(post.root_id || post.id);
  }

  toggleDrawer() {
    const open = !this.el.classList.contains("drawer-open");
    this.el.classList.toggle("drawer-open", open);
    this.menuButton.setAttribute("aria-expanded", String(open));
    if (open) this.sidebar.el.querySelector("a[tabindex='0']")?.focus();
  }

  closeDrawer() {
    if (!this.el.classList.contains("drawer-open")) return;
    this.el.classList.remove("drawer-open");
    this.menuButton.setAttribute("aria-expanded", "false");
  }

  onEphemeral(post) {
    if (!post) return;
    // Kept for the session: the refusal of a shared DM's invite can come back before that DM's view is open.
    const kept = state.ephemeral.get(post.channel_id) || [];
    state.ephemeral.set(post.channel_id, [...kept, post].slice(-20));
    this.forViews((v) => v.onPosted(post));
  }

  async onPosted(post) {
    const channel = state.channels.get(post.channel_id);
    if (!channel) {
      await refreshChannel(post.channel_id); // a new DM, or a channel we were just added to
      return;
    }
    channel.total_msg_count = (channel.total_msg_count || 0) + 1;
    channel.last_post_at = post.create_at;
    const member = state.members.get(channel.id);
    if (member && post.user_id === state.me.id) member.msg_count = channel.total_msg_count;
    this.forViews((v) => v.onPosted(post));
    if (this.view?.channel.id === channel.id && document.visibilityState === "visible") this.markViewed(channel.id);
    this.sidebar.render();
  }

  onDeleted(post) { this.forViews((v) => v.onDeleted(post)); }

  onViewed(channelId) {
    const channel = state.channels.get(channelId);
    const member = state.members.get(channelId);
    if (channel && member) {
      member.msg_count = channel.total_msg_count;
      member.mention_count = 0;
      this.sidebar.render();
    }
  }

  onChannelUpdated(channel) {
    if (!channel || !state.channels.has(channel.id)) return;
    state.channels.set(channel.id, channel);
    invalidateShare(channel);
    if (this.view?.channel.id === channel.id) this.view.channelChanged(channel);
    this.sidebar.render();
  }

  onChannelGone(channelId) {
    state.channels.delete(channelId);
    state.members.delete(channelId);
    if (this.view?.channel.id === channelId) {
      announce("This channel is no longer available to you", { assertive: true });
      this.view.destroy();
      this.view = null;
      this.showTeam(currentTeam()?.name || "", "");
    }
    this.sidebar.render();
  }

  // Debounced POST /channels/members/me/view: the server then counts the channel as read.
  markViewed(channelId) {
    clearTimeout(this.viewTimer);
    this.viewTimer = setTimeout(async () => {
      try {
        await api.post("/channels/members/me/view", { channel_id: channelId, prev_channel_id: this.prevChannel || "" });
        this.onViewed(channelId);
      } catch { /* the next view retries */ }
    }, 300);
  }

  async toggleReaction(post, emoji, mine) {
    try {
      if (mine) await api.del(`/users/${state.me.id}/posts/${post.id}/reactions/${encodeURIComponent(emoji)}`);
      else await api.post("/reactions", { user_id: state.me.id, post_id: post.id, emoji_name: emoji });
    } catch (err) {
      announce(`Reaction failed: ${err.message}`, { assertive: true });
    }
  }

  async deletePost(post) {
    const ok = await confirmDialog({ title: "Delete message", message: "Delete this message? This cannot be undone.",
      confirmLabel: "Delete", danger: true });
    if (!ok) return;
    try {
      await api.del(`/posts/${post.id}`);
      this.onDeleted(post);
      announce("Message deleted");
    } catch (err) {
      announce(`Could not delete: ${err.message}`, { assertive: true });
    }
  }

  sendTyping(channelId, parentId) { this.socket.send("user_typing", { channel_id: channelId, parent_id: parentId }); }

  async resync() {
    if (!state.teamId) return;
    await loadTeam(state.teamId);
    const current = this.view && state.channels.get(this.view.channel.id);
    if (current) this.openChannel(current);
  }

  destroy() {
    this.unsubs.forEach((off) => off());
    this.view?.destroy();
    this.rhs?.destroy();
  }
}
