// One message: author (with the "external" badge for users of a connected workspace), time, text,
// attachments with image thumbnails, reactions, and the actions a person may take on it.

import { api, fileUrl } from "../api.js";
import { customEmoji } from "../custom_emoji.js";
import { append, fmtDateTime, fmtSize, fmtTime, h, icon, iconButton } from "../dom.js";
import { EMOJI, renderMarkdown } from "../markdown.js";
import { isRemoteUser, state } from "../store.js";
import { menuButton, nextId } from "../ui.js";
import { priorityLabel, renderAcks } from "./priority.js";

export { EMOJI };
export const PICKER = ["+1", "heart", "smile", "tada", "eyes", "white_check_mark", "rocket", "-1"];

export function emojiText(name) {
  return EMOJI[name] || `:${name}:`; // an emoji this client does not know shows as its name
}

// A reaction's emoji: a built-in one as its character, any other as this server's custom emoji (or ":name:").
const emojiNode = (name) => EMOJI[name] || customEmoji(name);

const fileInfos = new Map(); // post id -> Promise<FileInfo[]>

function filesOf(post) {
  if (post.metadata && Array.isArray(post.metadata.files)) return Promise.resolve(post.metadata.files);
  if (!post.file_ids || !post.file_ids.length) return Promise.resolve([]);
  if (!fileInfos.has(post.id)) {
    fileInfos.set(post.id, api.get(`/posts/${post.id}/files/info`).catch(() => []));
  }
  return fileInfos.get(post.id);
}

function renderFiles(post) {
  const box = h("div", { class: "attachments" });
  filesOf(post).then((files) => {
    for (const f of files) {
      const isImage = (f.mime_type || "").startsWith("image/") && f.width > 0;
      if (isImage) {
        box.append(h("a", { class: "attachment-image", href: fileUrl(f.id, f.has_preview_image ? "preview" : ""),
          target: "_blank", rel: "noopener", "aria-label": `Open ${f.name} (new tab)` },
        h("img", { src: fileUrl(f.id, "thumbnail"), alt: f.name, loading: "lazy", width: Math.min(f.width, 200) })));
      } else {
        box.append(h("a", { class: "attachment-file", href: `${fileUrl(f.id)}?download=1` },
          icon("file"), h("span", { class: "file-name" }, f.name), h("span", { class: "file-size" }, fmtSize(f.size))));
      }
    }
  });
  return box;
}

function avatar(user) {
  const letter = (user?.username || "?").charAt(0).toUpperCase();
  return h("div", { class: `avatar ${isRemoteUser(user) ? "avatar-remote" : ""}`, "aria-hidden": "true" }, letter);
}

// A post's own claim to a name (props.override_username) is shown only where Mattermost shows it: the
// server allows it (ServiceSettings.EnablePostUsernameOverride) and the post came from a webhook, a prop
// the server never takes from a client. Anything else is whatever the writer typed, never the author.
function overrideName(post) {
  const props = post.props || {};
  if (state.clientConfig?.EnablePostUsernameOverride !== "true" || props.from_webhook !== "true") return "";
  return typeof props.override_username === "string" ? props.override_username.trim() : "";
}

export function authorLine(post, { remoteNames = new Map() } = {}) {
  const user = state.users.get(post.user_id);
  const name = overrideName(post) || (user ? user.username : "…");
  const remote = isRemoteUser(user);
  const origin = remote ? remoteNames.get(user.remote_id) : "";
  return h("span", { class: "author" },
    h("span", { class: "author-name" }, name),
    remote ? h("span", { class: "badge badge-external", title: origin ? `From ${origin}` : "From a connected workspace" },
      "external") : null);
}

function reactionsOf(post) {
  const list = (post.metadata && post.metadata.reactions) || [];
  const groups = new Map();
  for (const r of list) {
    if (r.delete_at) continue;
    if (!groups.has(r.emoji_name)) groups.set(r.emoji_name, []);
    groups.get(r.emoji_name).push(r.user_id);
  }
  return groups;
}

function renderReactions(post, ctx) {
  const groups = reactionsOf(post);
  if (!groups.size) return null;
  const row = h("div", { class: "reactions", role: "group", "aria-label": "Reactions" });
  for (const [emoji, users] of groups) {
    const mine = users.includes(state.me.id);
    const names = users.map((id) => state.users.get(id)?.username || "someone").join(", ");
    row.append(h("button", { type: "button", class: `reaction ${mine ? "reaction-mine" : ""}`,
      "aria-pressed": String(mine), "aria-label": `${emoji} reaction by ${names}, ${users.length}`,
      title: `${names} reacted with :${emoji}:`, disabled: ctx.readonly ? true : undefined,
      onclick: () => ctx.toggleReaction(post, emoji, mine) },
    h("span", { "aria-hidden": "true" }, emojiNode(emoji)), h("span", { class: "count" }, users.length)));
  }
  return row;
}

function emojiPicker(post, ctx) {
  return menuButton("Add reaction", () => PICKER.map((name) => ({
    label: `${emojiText(name)} ${name.replace(/_/g, " ")}`,
    action: () => ctx.toggleReaction(post, name, false),
  })), { iconName: "smile" });
}

// Files of a post from a connected workspace that did not arrive here (this server's note, issue 13).
const NOT_TRANSFERRED = "isthmus_files_not_transferred";
const WHY = {
  too_large: (m) => `this workspace accepts files up to ${fmtSize(m.limit)}`,
  attachments_off: () => "this workspace does not accept file attachments",
  not_received: () => "a workspace on the way did not accept it",
};

function renderNotTransferred(post) {
  const items = post.props?.[NOT_TRANSFERRED];
  if (!Array.isArray(items) || !items.length) return null;
  return h("ul", { class: "files-not-transferred", "aria-label": "Files not transferred" },
    items.map((m) => {
      const what = m.name ? `A file (${m.name}, ${fmtSize(m.size || 0)})` : "A file";
      const why = (WHY[m.reason] || WHY.not_received)(m);
      return h("li", {}, icon("file"), ` ${what} was not transferred: ${why}`);
    }));
}

export function renderPost(post, ctx) {
  const mine = post.user_id === state.me.id;
  const system = (post.type || "").startsWith("system_");
  const headId = nextId("post-head");
  const user = state.users.get(post.user_id);
  const el = h("article", { class: `post ${system ? "post-system" : ""} ${mine ? "post-mine" : ""}`,
    "aria-labelledby": headId, dataset: { postId: post.id }, tabindex: "-1" });
  const head = h("div", { class: "post-head", id: headId },
    authorLine(post, ctx),
    priorityLabel(post),
    h("time", { datetime: new Date(post.create_at).toISOString(), title: fmtDateTime(post.create_at) },
      fmtTime(post.create_at)),
    post.edit_at ? h("span", { class: "edited" }, "(edited)") : null);
  const body = h("div", { class: "post-body" });
  if (post.root_id && !ctx.inThread) {
    body.append(h("button", { type: "button", class: "link reply-context", onclick: () => ctx.openThread(post.root_id) },
      icon("reply"), " replied in a thread"));
  }
  const message = h("div", { class: "post-message" }, renderMarkdown(post.message, { me: state.me?.username || "" }));
  body.append(message);
  if (post.file_ids && post.file_ids.length) body.append(renderFiles(post));
  const notTransferred = renderNotTransferred(post);
  if (notTransferred) body.append(notTransferred);
  const acks = system ? null : renderAcks(post, ctx);
  const reactions = renderReactions(post, ctx);
  if (reactions || acks) body.append(h("div", { class: "post-footer" }, acks, reactions));
  if (!post.root_id && post.reply_count > 0 && !ctx.inThread) {
    body.append(h("button", { type: "button", class: "link reply-count", onclick: () => ctx.openThread(post.id) },
      icon("reply"), ` ${post.reply_count} ${post.reply_count === 1 ? "reply" : "replies"}`));
  }
  const actions = h("div", { class: "post-actions", role: "toolbar", "aria-label": "Message actions" });
  if (!system && !ctx.readonly) {
    actions.append(emojiPicker(post, ctx));
    if (!ctx.inThread) {
      actions.append(iconButton("reply", "Reply in thread", () => ctx.openThread(post.root_id || post.id)));
    }
  }
  if (mine && !system) {
    actions.append(iconButton("edit", "Edit message", () => startEdit(el, message, post, ctx)));
    actions.append(iconButton("trash", "Delete message", () => ctx.deletePost(post)));
  }
  if (post.pending) el.classList.add("post-pending");
  append(el, [avatar(user), h("div", { class: "post-main" }, head, body), actions.childElementCount ? actions : null]);
  return el;
}

function startEdit(el, messageEl, post, ctx) {
  const input = h("textarea", { class: "edit-input", rows: 2, "aria-label": "Edit message" });
  input.value = post.message;
  const error = h("p", { class: "field-error", role: "alert" });
  const save = h("button", { type: "button", class: "btn btn-primary btn-small" }, "Save");
  const cancel = h("button", { type: "button", class: "btn btn-small" }, "Cancel");
  const form = h("div", { class: "edit-form" }, input, error,
    h("div", { class: "edit-buttons" }, cancel, save, h("span", { class: "hint" }, "Enter to save, Escape to cancel")));
  messageEl.replaceWith(form);
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
  const done = () => { form.replaceWith(messageEl); el.focus(); };
  const submit = async () => {
    const text = input.value.trim();
    if (!text) { error.textContent = "A message cannot be empty; delete it instead."; return; }
    if (text === post.message) { done(); return; }
    save.disabled = true;
    try {
      const updated = await api.put(`/posts/${post.id}/patch`, { message: text });
      done();
      ctx.updated(updated);
    } catch (err) {
      error.textContent = err.message;
      save.disabled = false;
    }
  };
  save.addEventListener("click", submit);
  cancel.addEventListener("click", done);
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); submit(); }
    if (ev.key === "Escape") { ev.preventDefault(); ev.stopPropagation(); done(); }
  });
}

// Apply a reaction event to a post object in place.
export function applyReaction(post, reaction, added) {
  post.metadata = post.metadata || {};
  const list = (post.metadata.reactions || []).filter(
    (r) => !(r.user_id === reaction.user_id && r.emoji_name === reaction.emoji_name));
  if (added) list.push(reaction);
  post.metadata.reactions = list;
}
