// The right-hand panel: a thread (root and replies, with its own composer) or search results.

import { api } from "../api.js";
import { h, icon } from "../dom.js";
import { channelLabel, loadUsers, shareInfo, state } from "../store.js";
import { createComposer } from "./composer.js";
import { PostList } from "./postlist.js";
import { authorLine } from "./posts.js";

function panel(title, onClose, ...body) {
  const titleId = "rhs-title";
  const close = h("button", { type: "button", class: "icon-button", "aria-label": `Close ${title}`,
    onclick: onClose }, icon("close"));
  return h("aside", { class: "rhs", "aria-labelledby": titleId },
    h("header", { class: "rhs-header" }, h("h2", { id: titleId }, title), close), ...body);
}

export class ThreadView {
  constructor(rootId, app) {
    this.rootId = rootId;
    this.app = app;
    this.channelId = "";
    this.ctx = {
      // The open channel's workspace names, so badges in the thread name the workspace too.
      meId: state.me.id, inThread: true, readonly: false, remoteNames: app.view?.remoteNames || new Map(),
      openThread: () => {},
      toggleReaction: (post, emoji, mine) => app.toggleReaction(post, emoji, mine),
      deletePost: (post) => app.deletePost(post),
      updated: (post) => this.list.upsert(post),
    };
    this.list = new PostList(this.ctx, { label: "Thread messages" });
    this.status = h("p", { class: "list-status", role: "status" }, "Loading thread…");
    this.scroller = h("div", { class: "post-scroller", tabindex: "0", "aria-label": "Thread" }, this.status, this.list.el);
    this.composerSlot = h("div", { class: "composer-slot" });
    this.el = panel("Thread", () => app.closeRhs(), this.scroller, this.composerSlot);
  }

  async load() {
    try {
      const list = await api.get(`/posts/${this.rootId}/thread`);
      const posts = Object.values(list.posts).filter((p) => !p.delete_at);
      const root = list.posts[this.rootId];
      if (!root) throw new Error("This message was deleted.");
      this.channelId = root.channel_id;
      await this.list.setPosts(posts);
      this.status.textContent = "";
    } catch (err) {
      this.status.textContent = `Could not open the thread: ${err.message}`;
      return;
    }
    const channel = state.channels.get(this.channelId);
    const info = channel?.shared ? await shareInfo(channel) : null;
    const readonly = Boolean(info?.share?.readonly && !info.share.home);
    this.ctx.readonly = readonly;
    if (readonly) {
      this.composerSlot.replaceChildren(h("p", { class: "banner banner-readonly", role: "note" },
        "Read-only channel: replies are turned off."));
      this.list.rerender();
    } else {
      this.composer = createComposer({ channelId: this.channelId, rootId: this.rootId, label: "Reply to thread",
        onSent: (post) => this.onPosted(post), sendTyping: (cid, root) => this.app.sendTyping(cid, root) });
      this.composerSlot.replaceChildren(this.composer.el);
    }
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  async onPosted(post) {
    if (post.id !== this.rootId && post.root_id !== this.rootId) return;
    await this.list.upsert(post);
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  onEdited(post) { if (this.list.posts.has(post.id)) this.list.upsert(post); }

  onDeleted(post) {
    if (post.id === this.rootId) {
      this.status.textContent = "This message was deleted.";
      this.list.el.replaceChildren();
      this.composerSlot.replaceChildren();
      return;
    }
    this.list.remove(post.id);
  }

  onReaction(reaction, added) { this.list.reaction(reaction, added); }

  onAck(ack, added) { this.list.ack(ack, added); }

  focus() { (this.composer ? this.composer.input : this.scroller).focus(); }

  destroy() {}
}

export class SearchView {
  constructor(terms, app) {
    this.terms = terms;
    this.app = app;
    this.status = h("p", { class: "list-status", role: "status" }, `Searching for “${terms}”…`);
    this.results = h("ol", { class: "search-results", "aria-label": "Search results" });
    this.el = panel("Search results", () => app.closeRhs(), this.status,
      h("div", { class: "post-scroller", tabindex: "0", "aria-label": "Search results" }, this.results));
  }

  async load() {
    try {
      const list = await api.post(`/teams/${state.teamId}/posts/search`, { terms: this.terms, is_or_search: false,
        page: 0, per_page: 50 });
      const posts = list.order.map((id) => list.posts[id]).filter(Boolean);
      await loadUsers(posts.map((p) => p.user_id));
      this.status.textContent = posts.length ? `${posts.length} result${posts.length === 1 ? "" : "s"}` :
        `No results for “${this.terms}”.`;
      for (const p of posts) this.results.append(this.item(p));
    } catch (err) {
      this.status.textContent = `Search failed: ${err.message}`;
    }
  }

  item(post) {
    const channel = state.channels.get(post.channel_id);
    const where = channel ? channelLabel(channel) : "a channel you are not in";
    return h("li", { class: "search-result" },
      h("div", { class: "post-head" }, authorLine(post), h("span", { class: "muted" }, ` in ${where}`),
        h("time", { datetime: new Date(post.create_at).toISOString() }, new Date(post.create_at).toLocaleString())),
      h("p", { class: "post-message" }, post.message),
      channel ? h("button", { type: "button", class: "btn btn-small",
        onclick: () => this.app.jumpTo(post) }, "Jump") : null);
  }

  onPosted() {}
  onEdited() {}
  onDeleted() {}
  onReaction() {}
  focus() { this.results.querySelector("button")?.focus() || this.status.focus?.(); }
  destroy() {}
}
