// An ordered, live list of posts (the channel timeline or a thread), keyed by post id, with day
// separators and an optional "New messages" line.

import { announce, fmtDay, h } from "../dom.js";
import { loadUsers, state } from "../store.js";
import { applyReaction, renderPost } from "./posts.js";
import { acksOf, ackUserIds, applyAck } from "./priority.js";

const dayKey = (ms) => new Date(ms).toDateString();

// Replace a rendered post, keeping keyboard focus on the same control (or on the post) if it was inside.
function swap(old, fresh) {
  const active = document.activeElement;
  const had = old.contains(active);
  const label = had && active !== old ? active.getAttribute("aria-label") : null;
  const key = had && active !== old ? active.dataset?.focusKey : null; // a control whose name changes (Acknowledge)
  const editing = old.querySelector(".edit-form");
  if (editing) return; // never throw away a half-typed edit; the next render after it picks the change up
  old.replaceWith(fresh);
  if (!had) return;
  const same = (key && fresh.querySelector(`[data-focus-key="${key}"]`)) || label && [...fresh.querySelectorAll("[aria-label]")].find((el) => el.getAttribute("aria-label") === label);
  (same || fresh).focus();
}

export class PostList {
  constructor(ctx, { label }) {
    this.ctx = ctx;
    this.posts = new Map();
    this.order = []; // ids, oldest first
    this.unreadAfter = null; // ms: posts by others after this are new (null: nothing unread)
    // Not a live region: re-rendering history would read it all out. Views announce arrivals instead.
    this.el = h("div", { class: "post-list", role: "log", "aria-label": label, "aria-live": "off" });
  }

  get oldestId() { return this.order[0] || ""; }

  async setPosts(posts) {
    this.posts.clear();
    for (const p of posts) this.posts.set(p.id, p);
    this.sortOrder();
    const all = [...this.posts.values()];
    await loadUsers([...all.map((p) => p.user_id), ...ackUserIds(all)]);
    this.renderAll();
  }

  async prepend(posts) {
    for (const p of posts) if (!this.posts.has(p.id)) this.posts.set(p.id, p);
    this.sortOrder();
    await loadUsers([...posts.map((p) => p.user_id), ...ackUserIds(posts)]);
    this.renderAll();
  }

  sortOrder() {
    this.order = [...this.posts.values()].sort((a, b) => a.create_at - b.create_at || (a.id < b.id ? -1 : 1))
      .map((p) => p.id);
  }

  renderAll() {
    const frag = document.createDocumentFragment();
    let lastDay = "";
    let marked = false;
    for (const id of this.order) {
      const p = this.posts.get(id);
      const day = dayKey(p.create_at);
      if (day !== lastDay) {
        frag.append(this.separator(p.create_at));
        lastDay = day;
      }
      if (!marked && this.unreadAfter !== null && p.create_at > this.unreadAfter && p.user_id !== this.ctx.meId) {
        frag.append(h("div", { class: "new-messages", role: "separator", "aria-label": "New messages" },
          h("span", {}, "New messages")));
        marked = true;
      }
      frag.append(renderPost(p, this.ctx));
    }
    this.el.replaceChildren(frag);
  }

  separator(ms) {
    return h("div", { class: "day-separator", role: "separator", dataset: { day: dayKey(ms) } },
      h("span", {}, fmtDay(ms)));
  }

  elementOf(id) {
    return this.el.querySelector(`[data-post-id="${CSS.escape(id)}"]`);
  }

  // A new or changed post. Returns true when it was appended at the end.
  async upsert(post) {
    await loadUsers([post.user_id]);
    const known = this.posts.get(post.id);
    if (known) {
      // Keep reactions the event stream already applied when an edit arrives without metadata.
      if (!post.metadata?.reactions && known.metadata?.reactions) {
        post.metadata = { ...(post.metadata || {}), reactions: known.metadata.reactions };
      }
      // Likewise acknowledgements, which only the acknowledgement events change.
      if (!post.metadata?.acknowledgements && known.metadata?.acknowledgements) {
        post.metadata = { ...(post.metadata || {}), acknowledgements: known.metadata.acknowledgements };
      }
      this.posts.set(post.id, post);
      const old = this.elementOf(post.id);
      if (old) swap(old, renderPost(post, this.ctx));
      return false;
    }
    this.posts.set(post.id, post);
    const last = this.posts.get(this.order[this.order.length - 1]);
    if (last && post.create_at < last.create_at) { // out of order (a late remote post): redraw
      this.sortOrder();
      this.renderAll();
      return false;
    }
    this.order.push(post.id);
    if (!last || dayKey(last.create_at) !== dayKey(post.create_at)) this.el.append(this.separator(post.create_at));
    this.el.append(renderPost(post, this.ctx));
    return true;
  }

  remove(id) {
    if (!this.posts.delete(id)) return false;
    this.order = this.order.filter((x) => x !== id);
    this.elementOf(id)?.remove();
    return true;
  }

  reaction(reaction, added) {
    const post = this.posts.get(reaction.post_id);
    if (!post) return;
    applyReaction(post, reaction, added);
    loadUsers([reaction.user_id]).then(() => {
      const old = this.elementOf(post.id);
      if (old) swap(old, renderPost(post, this.ctx));
    });
  }

  ack(ack, added) {
    const post = this.posts.get(ack.post_id);
    if (!post) return;
    const had = acksOf(post).some((a) => a.user_id === ack.user_id);
    applyAck(post, ack, added);
    loadUsers([ack.user_id]).then(() => this.ctx.knowUsers?.([ack.user_id])).then(() => {
      // The author hears who acknowledged their message: once (the channel's list, not the thread's too; not
      // again for a repeated event).
      if (!this.ctx.inThread && post.user_id === this.ctx.meId && ack.user_id !== this.ctx.meId && added && !had) {
        announce(`${state.users.get(ack.user_id)?.username || "Someone"} acknowledged your message`);
      }
      const old = this.elementOf(post.id);
      if (old) swap(old, renderPost(post, this.ctx));
    });
  }

  // Reply counts of roots change when replies arrive or go.
  bumpReplies(rootId, delta) {
    const root = this.posts.get(rootId);
    if (!root) return;
    root.reply_count = Math.max(0, (root.reply_count || 0) + delta);
    const old = this.elementOf(rootId);
    if (old) swap(old, renderPost(root, this.ctx));
  }

  rerender() { this.renderAll(); }
}
