// ConnectedWorkspacesSettings, edited through GET /config and PUT /config/patch (needs manage_system).

import { api } from "../api.js";
import { announce, h } from "../dom.js";
import { inWords } from "../errors.js";
import { errorBox, field, flashStatus } from "../ui.js";

const SWITCHES = [
  ["EnableRemoteClusterService", "Enable connected workspaces",
    "Lets this server create and accept connections with other workspaces."],
  ["EnableSharedChannels", "Enable shared channels", "Lets channels be shared with connected workspaces."],
  ["DisableSharedChannelsStatusSync", "Do not synchronize user status",
    "Member status and availability are not sent to connected workspaces."],
  ["SyncUsersOnConnectionOpen", "Synchronize users when a connection opens", ""],
];
const NUMBERS = [
  ["MaxPostsPerSync", "Maximum posts per sync", 1, 10000],
  ["GlobalUserSyncBatchSize", "User sync batch size", 1, 200],
  ["MemberSyncBatchSize", "Member sync batch size", 1, 10000],
];

export async function renderSettings(section, onSaved) {
  section.replaceChildren(h("h2", { id: "cw-settings" }, "Connected workspaces settings"),
    h("p", { class: "list-status", role: "status" }, "Loading settings…"));
  let cfg;
  try {
    cfg = (await api.get("/config")).ConnectedWorkspacesSettings || {};
  } catch (err) {
    section.replaceChildren(h("h2", { id: "cw-settings" }, "Connected workspaces settings"),
      h("p", { class: "muted" }, err.status === 403 ?
        "Changing these settings needs the manage_system permission." : `Could not load settings: ${inWords(err, "change the server's settings")}`));
    return;
  }
  const err = errorBox();
  const controls = {};
  const fields = [];
  for (const [key, label, help] of SWITCHES) {
    const input = h("input", { type: "checkbox", name: key, checked: Boolean(cfg[key]) });
    controls[key] = input;
    fields.push(field(label, input, { help }));
  }
  for (const [key, label, min, max] of NUMBERS) {
    const input = h("input", { type: "number", name: key, min, max, step: 1, value: cfg[key] ?? "" });
    controls[key] = input;
    fields.push(field(label, input));
  }
  const save = h("button", { type: "submit", class: "btn btn-primary" }, "Save settings");
  const saved = h("span", { class: "saved", role: "status" });
  const form = h("form", { class: "stack settings-form", "aria-labelledby": "cw-settings", novalidate: true },
    err.el, ...fields, h("div", { class: "form-actions" }, save, saved));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.clear();
    saved.textContent = "";
    const patch = {};
    for (const [key] of SWITCHES) patch[key] = controls[key].checked;
    for (const [key, label, min, max] of NUMBERS) {
      const n = Number(controls[key].value);
      if (!Number.isInteger(n) || n < min || n > max) {
        err.show(`${label} must be a whole number from ${min} to ${max}.`);
        controls[key].focus();
        return;
      }
      patch[key] = n;
    }
    save.disabled = true;
    try {
      const updated = await api.put("/config/patch", { ConnectedWorkspacesSettings: patch });
      const now = updated.ConnectedWorkspacesSettings || {};
      for (const [key] of SWITCHES) controls[key].checked = Boolean(now[key]);
      flashStatus(saved, "Settings saved.");
      announce("Settings saved");
      onSaved?.();
    } catch (e) {
      err.show(`Could not save: ${inWords(e, "change the server's settings")}`);
    } finally {
      save.disabled = false;
    }
  });
  section.replaceChildren(h("h2", { id: "cw-settings" }, "Connected workspaces settings"), form);
}
