// Persistent notifications: the server's "persistent_notification_triggered" event reminds this user of an
// urgent message that named them and that they have not answered yet. The reminders sit in a band under the top
// bar (one per message, the latest first) with "View message" and "Dismiss"; a reminder goes away by itself once
// the user acknowledges, reacts or replies (the server then stops sending them), or the message is deleted.

import { announce, h, icon } from "../dom.js";
import { channelLabel, state } from "../store.js";

const EXCERPT = 120; // characters of the message shown in the band

export class Reminders {
  constructor(app) {
    this.app = app;
    this.items = new Map(); // post id -> element
    this.el = h("section", { class: "reminders", "aria-label": "Reminders", hidden: true });
  }

  // data: the event's data (post and sender_name as JSON text / strings, as Mattermost sends them).
  show(data) {
    let post;
    try { post = typeof data.post === "string" ? JSON.parse(data.post) : data.post; } catch { return; }
    if (!post?.id) return;
    const channel = state.channels.get(post.channel_id);
    const where = channel ? channelLabel(channel) : data.channel_display_name || "a channel";
    const sender = data.sender_name || "someone";
    const text = post.message.length > EXCERPT ? `${post.message.slice(0, EXCERPT)}…` : post.message;
    const view = h("button", { type: "button", class: "btn btn-small btn-primary" }, "View message");
    view.addEventListener("click", () => { this.app.jumpTo(post); this.resolve(post.id); });
    const dismiss = h("button", { type: "button", class: "icon-button", "aria-label": `Dismiss the reminder from ${sender}` },
      icon("close"));
    dismiss.addEventListener("click", () => this.resolve(post.id, { refocus: true }));
    const item = h("div", { class: "reminder", role: "group", "aria-label": `Urgent message from ${sender}`,
      dataset: { postId: post.id } },
    h("span", { class: "priority-label priority-urgent" }, icon("alert"), "URGENT"),
    h("p", { class: "reminder-text" }, h("strong", {}, `${sender} in ${where}: `), text,
      h("span", { class: "reminder-hint" }, " Acknowledge, react or reply to stop these reminders.")),
    view, dismiss);
    this.items.get(post.id)?.remove();
    this.items.set(post.id, item);
    this.el.prepend(item);
    this.el.hidden = false;
    announce(`Reminder: urgent message from ${sender} in ${where}`, { assertive: true });
  }

  resolve(postId, { refocus = false } = {}) {
    const item = this.items.get(postId);
    if (!item) return;
    item.remove();
    this.items.delete(postId);
    this.el.hidden = this.items.size === 0;
    if (refocus) (this.el.querySelector(".reminder button") || this.app.view || document.getElementById("main"))?.focus?.();
  }

  // What else on the socket answers a reminder: the user's own acknowledgement, reaction or reply, a deletion.
  onAck(ack, added) { if (added && ack?.user_id === state.me.id) this.resolve(ack.post_id); }

  onReaction(reaction, added) { if (added && reaction?.user_id === state.me.id) this.resolve(reaction.post_id); }

  onPosted(post) { if (post.root_id && post.user_id === state.me.id) this.resolve(post.root_id); }

  onDeleted(post) { this.resolve(post.id); }

  onEdited() {}
}
