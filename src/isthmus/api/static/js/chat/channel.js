// The open channel: header (shared icon, "shared with …"), the timeline with infinite scroll upwards,
// the "New messages" line, the read-only banner or the composer, and who is typing.

import { api, query } from "../api.js";
import { announce, h, icon, replace } from "../dom.js";
import { channelLabel, events, isRemoteUser, loadUsers, shareInfo, state, unreadCount } from "../store.js";
import { createComposer } from "./composer.js";
import { PostList } from "./postlist.js";
import { ackUserIds } from "./priority.js";
import { canShareHere, openShareDialog } from "./share_dialog.js";

const PER_PAGE = 30;
const remoteInfos = new Map(); // remote id -> Promise<RemoteClusterInfo|null>

export function remoteInfo(remoteId) {
  if (!remoteInfos.has(remoteId)) {
    remoteInfos.set(remoteId, api.get(`/sharedchannels/remote_info/${remoteId}`).catch(() => null));
  }
  return remoteInfos.get(remoteId);
}

export function channelIcon(channel) {
  if (channel.shared) return icon("shared", "channel-icon");
  if (channel.type === "P") return icon("lock", "channel-icon");
  if (channel.type === "D" || channel.type === "G") return icon("at", "channel-icon");
  return icon("globe", "channel-icon");
}

export class ChannelView {
  constructor(channel, app) {
    this.channel = channel;
    this.app = app;
    this.hasMore = true;
    this.loading = false;
    this.typing = new Map(); // user id -> timeout
    this.readonly = false;
    this.remoteNames = new Map();
    this.ctx = {
      meId: state.me.id, inThread: false, readonly: false, remoteNames: this.remoteNames,
      openThread: (id) => app.openThread(id),
      toggleReaction: (post, emoji, mine) => app.toggleReaction(post, emoji, mine),
      deletePost: (post) => app.deletePost(post),
      updated: (post) => this.list.upsert(post),
      knowUsers: (ids) => this.loadRemoteNames(ids.map((id) => ({ user_id: id }))),
    };
    this.list = new PostList(this.ctx, { label: `Messages in ${channelLabel(channel)}` });
    this.title = h("h1", { class: "channel-title", id: "channel-title" });
    this.sharedLine = h("p", { class: "shared-with", hidden: true });
    this.purpose = h("p", { class: "channel-purpose" });
    this.shareButton = h("button", { type: "button", class: "btn btn-small", hidden: true,
      onclick: () => openShareDialog(this.channel) }, "Share with workspaces");
    this.banner = h("div", { class: "banner banner-readonly", role: "note", hidden: true });
    this.sentinel = h("div", { class: "load-more", "aria-hidden": "true" });
    this.status = h("p", { class: "list-status", role: "status" });
    // A copy of a channel shared from elsewhere starts at the share: say so where its history would be.
    this.historyNote = h("p", { class: "history-note", hidden: true });
    this.copyOf = "";
    this.jump = h("button", { type: "button", class: "btn btn-small jump-new", hidden: true,
      onclick: () => this.scrollToBottom(true) }, "New messages ↓");
    this.scroller = h("div", { class: "post-scroller", tabindex: "0", "aria-labelledby": "channel-title" },
      this.sentinel, this.historyNote, this.status, this.list.el);
    this.typingLine = h("p", { class: "typing", "aria-hidden": "true" });
    this.composerSlot = h("div", { class: "composer-slot" });
    this.el = h("section", { class: "channel-view", "aria-labelledby": "channel-title" },
      h("header", { class: "channel-header" }, this.title, this.sharedLine, this.purpose, this.shareButton),
      this.banner, h("div", { class: "scroll-wrap" }, this.scroller, this.jump), this.typingLine, this.composerSlot);
    this.renderHeader();
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.loadOlder();
    }, { root: this.scroller, rootMargin: "200px 0px 0px 0px" });
    this.scroller.addEventListener("scroll", () => {
      if (this.nearBottom()) this.jump.hidden = true;
    });
    this.offShare = events.on("share", (cid) => {
      if (cid === this.channel.id && state.shares.has(cid)) this.renderShare(state.shares.get(cid));
    });
  }

  renderHeader() {
    const c = this.channel;
    replace(this.title, channelIcon(c), " ", channelLabel(c),
      c.shared ? h("span", { class: "visually-hidden" }, " (shared channel)") : null);
    this.purpose.textContent = c.purpose || c.header || "";
    this.purpose.hidden = !this.purpose.textContent;
    if (c.shared) shareInfo(c).then((info) => this.renderShare(info));
    else this.renderShare(null);
  }

  renderShare(info) {
    if (!this.channel.shared) info = null;
    this.shareButton.hidden = !canShareHere(this.channel, info);
    const share = info?.share;
    let remotes = (info?.remotes || []).filter((r) => !r.delete_at);
    if (share && !share.home && info.home) remotes = remotes.filter((r) => r.name !== info.home.name);
    const names = remotes.map((r) => r.display_name || r.name);
    if (this.channel.shared) {
      let text = "Shared channel";
      if (share && !share.home) {
        const home = info.home ? info.home.display_name || info.home.name : "another workspace";
        text = `Shared from ${home}`;
        if (names.length) text += ` · also with ${names.join(", ")}`;
      } else if (names.length) {
        text = `Shared with ${names.join(", ")}`;
      }
      if (share?.readonly && share.home) text += " (read-only for them)";
      this.sharedLine.replaceChildren(icon("shared"), " ", text);
      this.sharedLine.hidden = false;
    } else {
      this.sharedLine.hidden = true;
    }
    const homeName = info?.home ? info.home.display_name || info.home.name : "another workspace";
    this.copyOf = share && !share.home ? homeName : "";
    this.renderHistoryNote();
    const readonly = Boolean(share && share.readonly && !share.home);
    if (readonly) {
      const home = info.home ? info.home.display_name || info.home.name : "another workspace";
      this.banner.replaceChildren(h("strong", {}, "Read-only channel. "),
        `This channel is shared from ${home} as read-only: you can read messages here but not post or react.`);
    }
    this.banner.hidden = !readonly;
    if (readonly !== this.readonly || !this.composerReady) {
      this.composerReady = true;
      this.readonly = readonly;
      this.ctx.readonly = readonly;
      this.renderComposer();
      this.list.rerender();
    }
  }

  renderHistoryNote() {
    this.historyNote.textContent = this.copyOf ?
      `History starts at the share: messages written in ${this.copyOf} before this channel was shared with ` +
        "this workspace are not copied here." : "";
    this.historyNote.hidden = !this.copyOf || this.hasMore;
  }

  renderComposer() {
    if (this.readonly) {
      this.composer = null;
      this.composerSlot.replaceChildren();
      return;
    }
    this.composer = createComposer({ channelId: this.channel.id, label: `Write to ${channelLabel(this.channel)}`,
      onSent: (post) => this.onPosted(post), sendTyping: (cid, root) => this.app.sendTyping(cid, root) });
    this.composerSlot.replaceChildren(this.composer.el);
  }

  async load() {
    const member = state.members.get(this.channel.id);
    // The "New messages" line goes above the first message newer than my last visit, if any is unread.
    this.list.unreadAfter = member && unreadCount(this.channel) > 0 ? member.last_viewed_at || 0 : null;
    this.status.textContent = "Loading messages…";
    try {
      const list = await api.get(`/channels/${this.channel.id}/posts${query({ per_page: PER_PAGE })}`);
      const stored = list.order.map((id) => list.posts[id]).filter((p) => p && !p.delete_at);
      this.hasMore = list.order.length >= PER_PAGE;
      const oldest = stored.length && this.hasMore ? Math.min(...stored.map((p) => p.create_at)) : 0;
      const notes = (state.ephemeral.get(this.channel.id) || []).filter((p) => p.create_at >= oldest);
      const posts = [...stored, ...notes].sort((x, y) => y.create_at - x.create_at);
      await this.list.setPosts(posts);
      await this.loadRemoteNames([...posts, ...ackUserIds(posts).map((id) => ({ user_id: id }))]);
      this.status.textContent = posts.length ? "" : "No messages yet. Say hello!";
      this.renderHistoryNote();
    } catch (err) {
      this.status.textContent = `Could not load messages: ${err.message}`;
      return;
    }
    const marker = this.list.el.querySelector(".new-messages");
    if (marker) marker.scrollIntoView({ block: "center" });
    else this.scrollToBottom();
    this.observer.observe(this.sentinel);
    this.app.markViewed(this.channel.id);
  }

  async loadRemoteNames(posts) {
    const ids = new Set();
    for (const p of posts) {
      const u = state.users.get(p.user_id);
      if (isRemoteUser(u) && !this.remoteNames.has(u.remote_id)) ids.add(u.remote_id);
    }
    if (!ids.size) return;
    await Promise.all([...ids].map(async (rid) => {
      const info = await remoteInfo(rid);
      if (info) this.remoteNames.set(rid, info.display_name || info.name);
    }));
    this.list.rerender();
  }

  async loadOlder() {
    if (this.loading || !this.hasMore || !this.list.oldestId) return;
    this.loading = true;
    this.status.textContent = "Loading older messages…";
    try {
      const list = await api.get(`/channels/${this.channel.id}/posts${query({ before: this.list.oldestId,
        per_page: PER_PAGE })}`);
      const posts = list.order.map((id) => list.posts[id]).filter((p) => p && !p.delete_at);
      this.hasMore = list.order.length >= PER_PAGE;
      const before = this.scroller.scrollHeight;
      await this.list.prepend(posts);
      // Keep the message the reader was looking at in place.
      this.scroller.scrollTop += this.scroller.scrollHeight - before;
      this.status.textContent = this.hasMore ? "" : "Beginning of the channel";
      this.renderHistoryNote();
      if (posts.length) announce(`${posts.length} older messages loaded`);
    } catch (err) {
      this.status.textContent = `Could not load older messages: ${err.message}`;
    } finally {
      this.loading = false;
    }
  }

  nearBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }

  scrollToBottom(focusLast = false) {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.jump.hidden = true;
    if (focusLast) this.list.el.lastElementChild?.focus?.();
  }

  async onPosted(post) {
    if (post.channel_id !== this.channel.id) return;
    const stick = this.nearBottom() || post.user_id === state.me.id;
    this.status.textContent = "";
    await loadUsers([post.user_id]);
    await this.loadRemoteNames([post]);
    const appended = await this.list.upsert(post);
    if (appended && post.user_id !== state.me.id) {
      announce(`${state.users.get(post.user_id)?.username || "Someone"}: ${post.message}`.slice(0, 300));
    }
    if (post.root_id) this.list.bumpReplies(post.root_id, 1);
    this.clearTyping(post.user_id);
    if (appended && stick) this.scrollToBottom();
    else if (appended) this.jump.hidden = false;
  }

  onEdited(post) { if (post.channel_id === this.channel.id) this.list.upsert(post); }

  onDeleted(post) {
    if (post.channel_id !== this.channel.id) return;
    if (this.list.remove(post.id) && post.root_id) this.list.bumpReplies(post.root_id, -1);
  }

  onReaction(reaction, added) {
    if (reaction.channel_id === this.channel.id || !reaction.channel_id) this.list.reaction(reaction, added);
  }

  onAck(ack, added) {
    if (ack.channel_id === this.channel.id || !ack.channel_id) this.list.ack(ack, added);
  }

  onTyping(userId, parentId) {
    if (parentId || userId === state.me.id) return;
    clearTimeout(this.typing.get(userId));
    this.typing.set(userId, setTimeout(() => this.clearTyping(userId), 5000));
    loadUsers([userId]).then(() => this.renderTyping());
  }

  clearTyping(userId) {
    clearTimeout(this.typing.get(userId));
    if (this.typing.delete(userId)) this.renderTyping();
  }

  renderTyping() {
    const names = [...this.typing.keys()].map((id) => state.users.get(id)?.username || "Someone");
    this.typingLine.textContent = names.length ? `${names.join(", ")} ${names.length > 1 ? "are" : "is"} typing…` : "";
  }

  channelChanged(channel) {
    this.channel = channel;
    this.renderHeader();
  }

  focus() {
    if (this.composer) this.composer.focus();
    else this.scroller.focus();
  }

  destroy() {
    this.observer.disconnect();
    this.offShare();
    for (const t of this.typing.values()) clearTimeout(t);
  }
}
