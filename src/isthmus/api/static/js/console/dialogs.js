// Create a connection, accept an invitation, regenerate an invitation, and show an invitation with copy
// buttons (System Console → Connected Workspaces).

import { api } from "../api.js";
import { announce, h } from "../dom.js";
import { inWords } from "../errors.js";
import { copyButton, errorBox, field, nextId, openDialog } from "../ui.js";
import { allTeams, randomPassword, slugName, teamSelect } from "./model.js";

function busy(button, text) {
  const old = button.textContent;
  button.disabled = true;
  button.textContent = text;
  return () => { button.disabled = false; button.textContent = old; };
}

export function showInvite({ title, name, invite, password, onDone }) {
  const codeId = nextId("invite-code");
  const pwId = nextId("invite-pw");
  const code = h("textarea", { id: codeId, class: "invite-code", readonly: true, rows: 4, spellcheck: "false" });
  code.value = invite;
  const pw = h("input", { id: pwId, type: "text", class: "invite-password", readonly: true, spellcheck: "false" });
  pw.value = password;
  const done = h("button", { type: "button", class: "btn btn-primary", onclick: () => dlg.close() }, "Done");
  const dlg = openDialog({ title, onClose: onDone, body: [
    h("p", {}, `Send the invitation code and the password to the administrator of ${name}. `,
      "Use two different channels (for example email for the code and a phone call for the password): ",
      "whoever has both can connect to this workspace."),
    h("div", { class: "field" }, h("label", { for: codeId }, "Invitation code"), code,
      h("div", { class: "field-actions" }, copyButton(() => code.value, "Copy invitation code"))),
    h("div", { class: "field" }, h("label", { for: pwId }, "Password"), pw,
      h("div", { class: "field-actions" }, copyButton(() => pw.value, "Copy password"))),
  ], actions: [done] });
  code.focus();
  code.select();
  return dlg;
}

export async function createConnectionDialog(onCreated) {
  const teams = await allTeams();
  const orgName = h("input", { type: "text", maxlength: 64, autocomplete: "off", autofocus: true });
  const team = teamSelect(teams);
  const err = errorBox();
  const save = h("button", { type: "submit", class: "btn btn-primary" }, "Save");
  const cancel = h("button", { type: "button", class: "btn", onclick: () => dlg.close() }, "Cancel");
  const form = h("form", { class: "stack", novalidate: true }, err.el,
    field("Organization name", orgName, { required: true,
      help: "What you call the workspace you are connecting with, for example “workspace-b”. Its admin " +
        "chooses their own name for this workspace when accepting." }),
    field("Destination team", team, { required: true,
      help: "Channels this workspace shares with you are added to this team." }),
    h("div", { class: "dialog-actions" }, cancel, save));
  const dlg = openDialog({ title: "Create a connection", body: form });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.clear();
    const display = orgName.value.trim();
    if (!display) { err.show("Enter the organization name."); orgName.focus(); return; }
    if (!team.value) { err.show("Choose a destination team."); team.focus(); return; }
    const restore = busy(save, "Saving…");
    try {
      const res = await api.post("/remotecluster", { name: slugName(display), display_name: display,
        default_team_id: team.value });
      dlg.close();
      announce(`Connection with ${display} created`);
      showInvite({ title: "Connection created", name: display, invite: res.invite, password: res.password || "",
        onDone: () => onCreated(res.remote_cluster) });
    } catch (e) {
      restore();
      err.show(inWords(e, "manage connected workspaces"));
    }
  });
}

export async function acceptInviteDialog(onAccepted) {
  const teams = await allTeams();
  const orgName = h("input", { type: "text", maxlength: 64, autocomplete: "off", autofocus: true });
  const team = teamSelect(teams);
  const code = h("textarea", { rows: 4, spellcheck: "false", autocomplete: "off" });
  const password = h("input", { type: "password", autocomplete: "off" });
  const err = errorBox();
  const accept = h("button", { type: "submit", class: "btn btn-primary" }, "Accept");
  const cancel = h("button", { type: "button", class: "btn", onclick: () => dlg.close() }, "Cancel");
  const form = h("form", { class: "stack", novalidate: true }, err.el,
    field("Organization name", orgName, { required: true, help: "The workspace that sent you the invitation." }),
    field("Destination team", team, { required: true, help: "Channels shared with you are added to this team." }),
    field("Encrypted invitation code", code, { required: true }),
    field("Password", password, { required: true }),
    h("div", { class: "dialog-actions" }, cancel, accept));
  const dlg = openDialog({ title: "Accept a connection invitation", body: form });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.clear();
    const missing = [[orgName, "the organization name"], [team, "a destination team"], [code, "the invitation code"],
      [password, "the password"]].find(([el]) => !el.value.trim());
    if (missing) {
      err.show(`Enter ${missing[1]}.`);
      missing[0].focus();
      return;
    }
    const display = orgName.value.trim();
    const restore = busy(accept, "Connecting…");
    try {
      const rc = await api.post("/remotecluster/accept_invite", { name: slugName(display), display_name: display,
        default_team_id: team.value, invite: code.value.trim(), password: password.value });
      dlg.close();
      announce(`Connected with ${display}`);
      onAccepted(rc);
    } catch (e) {
      restore();
      const hint = e.id === "api.remote_cluster.invite_decrypt_error" ?
        " Check the password (it is case-sensitive) and that the whole code was pasted." : "";
      err.show(`The invitation could not be accepted: ${e.message}${hint}`);
      (e.id === "api.remote_cluster.invite_decrypt_error" ? password : code).focus();
    }
  });
}

export async function regenerateInvite(rc, onDone) {
  const password = randomPassword();
  const invite = await api.post(`/remotecluster/${rc.remote_id}/generate_invite`, { password });
  showInvite({ title: "New invitation", name: rc.display_name || rc.name, invite, password, onDone });
}
