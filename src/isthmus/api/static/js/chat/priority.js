// Message priority and acknowledgements (Mattermost's post priority): the composer's "Message priority"
// panel, the IMPORTANT / URGENT label of a post, and its "Acknowledge" button with the count and who
// acknowledged (people of connected workspaces with their "external" badge and workspace name).

import { api } from "../api.js";
import { announce, fmtDateTime, h, icon } from "../dom.js";
import { isRemoteUser, state } from "../store.js";
import { nextId } from "../ui.js";

export const UNDO_WINDOW_MS = 5 * 60 * 1000; // the server lets an acknowledgement be taken back for 5 minutes
const LEVELS = [
  { value: "", label: "Standard" },
  { value: "important", label: "Important" },
  { value: "urgent", label: "Urgent" },
];

export const priorityOf = (post) => post.metadata?.priority || null;

// Live acknowledgements only (a taken-back one is kept by the server with acknowledged_at 0).
export const acksOf = (post) => (post.metadata?.acknowledgements || []).filter((a) => a.acknowledged_at > 0);

export function ackUserIds(posts) {
  return posts.flatMap((p) => acksOf(p).map((a) => a.user_id));
}

// Apply a websocket acknowledgement event (or our own request's answer) to a post object in place.
export function applyAck(post, ack, added) {
  post.metadata = post.metadata || {};
  const list = (post.metadata.acknowledgements || []).filter((a) => a.user_id !== ack.user_id);
  if (added && ack.acknowledged_at > 0) list.push(ack);
  post.metadata.acknowledgements = list;
}

export function priorityLabel(post) {
  const level = priorityOf(post)?.priority;
  if (level !== "important" && level !== "urgent") return null;
  return h("span", { class: `priority-label priority-${level}` }, icon("alert"), level.toUpperCase());
}

function personItem(userId, ctx) {
  const user = state.users.get(userId);
  const name = user?.username || "someone";
  if (!isRemoteUser(user)) return h("li", {}, name);
  const origin = ctx.remoteNames?.get(user.remote_id) || "a connected workspace";
  return h("li", {}, name, " ", h("span", { class: "badge badge-external" }, "external"), ` from ${origin}`);
}

// The "Acknowledge" control of a post that asked for acknowledgements, or null.
export function renderAcks(post, ctx) {
  if (!priorityOf(post)?.requested_ack) return null;
  const acks = acksOf(post);
  const mineAck = acks.find((a) => a.user_id === state.me.id);
  const author = post.user_id === state.me.id;
  const n = acks.length;
  const tipId = nextId("ack-tip");
  const tip = h("div", { class: "ack-tip", role: "tooltip", id: tipId },
    n ? [h("p", {}, `Acknowledged by ${n} ${n === 1 ? "person" : "people"}:`),
      h("ul", {}, acks.map((a) => personItem(a.user_id, ctx)))] :
      h("p", {}, author ? "No one has acknowledged this message yet." : "No one has acknowledged this yet."));
  const canUndo = mineAck && Date.now() - mineAck.acknowledged_at < UNDO_WINDOW_MS;
  let text;
  let label;
  let disabled = false;
  if (author) {
    // The author asked for acknowledgements: they see who gave one, but do not acknowledge themselves.
    text = "Acknowledgements";
    label = `Acknowledgements: ${n}`;
    disabled = true;
  } else if (mineAck) {
    text = "Acknowledged";
    label = canUndo ? `Acknowledged (${n}); select to take it back` : `Acknowledged (${n})`;
    disabled = !canUndo || ctx.readonly;
  } else {
    text = "Acknowledge";
    label = `Acknowledge (${n} so far)`;
    disabled = Boolean(ctx.readonly);
  }
  // aria-disabled, not disabled: the button stays focusable so keyboard users can read who acknowledged.
  const button = h("button", { type: "button", class: `ack-button ${mineAck ? "ack-mine" : ""} ${author ? "ack-author" : ""}`,
    "aria-label": label, "aria-describedby": tipId, "aria-disabled": disabled ? "true" : undefined,
    dataset: { focusKey: "ack" },
    title: mineAck && !canUndo ? `You acknowledged this on ${fmtDateTime(mineAck.acknowledged_at)}` : undefined },
  icon("check"), h("span", {}, text), n ? h("span", { class: "count" }, String(n)) : null);
  button.addEventListener("click", () => {
    if (button.getAttribute("aria-disabled") === "true") return;
    if (mineAck && Date.now() - mineAck.acknowledged_at >= UNDO_WINDOW_MS) {
      announce("An acknowledgement can only be taken back within 5 minutes of giving it.", { assertive: true });
      ctx.updated(post); // redraw as no longer undoable
      return;
    }
    toggleAck(post, Boolean(mineAck), ctx, button);
  });
  button.addEventListener("keydown", (ev) => {
    // Escape hides the names without moving focus; only a second Escape reaches the view (closing a thread).
    if (ev.key === "Escape" && !tip.classList.contains("ack-tip-dismissed")) {
      tip.classList.add("ack-tip-dismissed");
      ev.stopPropagation();
    }
  });
  button.addEventListener("blur", () => tip.classList.remove("ack-tip-dismissed"));
  return h("div", { class: "ack-wrap" }, button, tip);
}

async function toggleAck(post, mine, ctx, button) {
  button.setAttribute("aria-disabled", "true");
  const path = `/users/${state.me.id}/posts/${post.id}/ack`;
  try {
    if (mine) {
      await api.del(path);
      applyAck(post, { user_id: state.me.id, post_id: post.id, acknowledged_at: 0 }, false);
      announce("Acknowledgement taken back");
    } else {
      applyAck(post, await api.post(path), true);
      announce("Message acknowledged");
    }
  } catch (err) {
    announce(`Could not ${mine ? "take back the acknowledgement" : "acknowledge"}: ${err.message}`, { assertive: true });
  }
  ctx.updated(post);
}

// The composer's priority: a "Message priority" button that discloses a panel (radio group, two check
// boxes, Done), and a line above the text box saying what the next message will carry.
export function createPriorityPicker(onChange) {
  const panelId = nextId("priority-panel");
  const name = nextId("priority");
  let value = { priority: "", requested_ack: false, persistent_notifications: false };
  const toggle = h("button", { type: "button", class: "icon-button", "aria-label": "Message priority",
    title: "Message priority", "aria-expanded": "false", "aria-controls": panelId }, icon("alert"));
  const radios = LEVELS.map((l) => h("input", { type: "radio", name, value: l.value, checked: l.value === "" }));
  const ack = h("input", { type: "checkbox", id: nextId("ack") });
  const persistent = h("input", { type: "checkbox", id: nextId("persistent"), disabled: true });
  const persistentHelpId = `${persistent.id}-help`;
  persistent.setAttribute("aria-describedby", persistentHelpId);
  const done = h("button", { type: "button", class: "btn btn-primary btn-small" }, "Done");
  const panel = h("div", { class: "priority-panel", id: panelId, role: "group", "aria-label": "Message priority",
    hidden: true },
  h("fieldset", { class: "priority-levels" }, h("legend", {}, "Message priority"),
    LEVELS.map((l, i) => h("label", { class: "priority-choice" }, radios[i], ` ${l.label}`))),
  h("div", { class: "field field-check" }, ack, h("label", { for: ack.id }, "Request acknowledgement")),
  h("div", { class: "field field-check" }, persistent,
    h("label", { for: persistent.id }, "Send persistent notifications"),
    h("p", { class: "help", id: persistentHelpId },
      "Urgent messages only: the people you @-mention (in a direct message, the other person) are reminded " +
      "every few minutes until they acknowledge, react or reply. People of a connected workspace are reminded " +
      "by their own workspace.")),
  h("div", { class: "priority-actions" }, done));
  const summary = h("div", { class: "priority-summary", hidden: true });

  function read() {
    const level = radios.find((r) => r.checked)?.value || "";
    persistent.disabled = level !== "urgent";
    if (persistent.disabled) persistent.checked = false;
    value = { priority: level, requested_ack: ack.checked, persistent_notifications: persistent.checked };
    renderSummary();
    onChange?.(value);
  }

  function renderSummary() {
    const parts = [];
    if (value.priority) {
      parts.push(h("span", { class: `priority-label priority-${value.priority}` }, icon("alert"),
        value.priority.toUpperCase()));
    }
    if (value.requested_ack) parts.push(h("span", { class: "priority-flag" }, icon("check"), "Acknowledgement requested"));
    if (value.persistent_notifications) parts.push(h("span", { class: "priority-flag" }, "Persistent notifications"));
    summary.hidden = !parts.length;
    toggle.classList.toggle("active", parts.length > 0);
    if (!parts.length) { summary.replaceChildren(); return; }
    summary.replaceChildren(h("span", { class: "visually-hidden" }, "Next message: "), ...parts,
      h("button", { type: "button", class: "link", onclick: () => { reset(); toggle.focus(); } }, "Remove priority"));
  }

  function open() {
    panel.hidden = false;
    toggle.setAttribute("aria-expanded", "true");
    (radios.find((r) => r.checked) || radios[0]).focus();
    document.addEventListener("pointerdown", outside, true);
  }

  function close(refocus) {
    if (panel.hidden) return;
    panel.hidden = true;
    toggle.setAttribute("aria-expanded", "false");
    document.removeEventListener("pointerdown", outside, true);
    if (refocus) toggle.focus();
  }

  function outside(ev) { if (!panel.contains(ev.target) && ev.target !== toggle && !toggle.contains(ev.target)) close(false); }

  function reset() {
    radios.forEach((r) => { r.checked = r.value === ""; });
    ack.checked = false;
    persistent.checked = false;
    read();
  }

  toggle.addEventListener("click", () => (panel.hidden ? open() : close(true)));
  panel.addEventListener("change", read);
  panel.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") { ev.preventDefault(); ev.stopPropagation(); close(true); }
    // Enter in the panel means "done", never "send the message".
    if (ev.key === "Enter" && ev.target.tagName === "INPUT") { ev.preventDefault(); close(true); }
  });
  done.addEventListener("click", () => close(true));

  return {
    toggle, panel, summary, reset,
    close: () => close(false),
    // What to send as metadata.priority, or null for a standard message without acknowledgements.
    metadata: () => (value.priority || value.requested_ack ? { ...value } : null),
  };
}
