// A team's invite link (/signup_user_complete/?id=<invite_id>, Mattermost's path): create an account and join
// the team, or, when already logged in, join it with one click.

import { api, ApiError, login } from "./api.js";
import { h, replace } from "./dom.js";
import { inWords } from "./errors.js";
import { errorBox, field } from "./ui.js";

export async function renderSignup(root, { signedIn, onJoined }) {
  const inviteId = new URLSearchParams(location.search).get("id") || "";
  const err = errorBox();
  const page = (...children) => replace(root, h("main", { id: "main", class: "login-page" },
    h("div", { class: "login-form" }, ...children)));
  let team = null;
  try {
    if (inviteId) team = await api.get(`/teams/invite/${encodeURIComponent(inviteId)}`, { quiet401: true });
  } catch (e) {
    page(h("h1", {}, "This invite link does not work"), h("p", {}, inWords(e)),
      h("a", { href: "/login", "data-nav": true }, "Go to the login page"));
    return;
  }
  if (!team) {
    page(h("h1", {}, "Create an account"), h("p", {}, "Ask a team's admin for its invite link: it lets you create ",
      "an account and join the team."), h("a", { href: "/login", "data-nav": true }, "Go to the login page"));
    return;
  }
  if (signedIn) {
    const join = h("button", { type: "button", class: "btn btn-primary btn-block" }, `Join ${team.display_name}`);
    join.addEventListener("click", async () => {
      err.clear();
      join.disabled = true;
      try {
        await api.post(`/teams/members/invite?invite_id=${encodeURIComponent(inviteId)}`);
        await onJoined(team);
      } catch (e) {
        join.disabled = false;
        err.show(inWords(e, "join this team"));
      }
    });
    page(h("h1", {}, `Join ${team.display_name}`), err.el, h("p", {}, "You were invited to this team."), join);
    return;
  }
  const email = h("input", { type: "email", autocomplete: "email" });
  const username = h("input", { type: "text", autocomplete: "username", autocapitalize: "none", spellcheck: "false" });
  const password = h("input", { type: "password", autocomplete: "new-password" });
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block" }, "Create account");
  const form = h("form", { class: "login-form", "aria-labelledby": "signup-title", novalidate: true },
    h("h1", { id: "signup-title" }, `Join ${team.display_name}`),
    h("p", { class: "muted" }, "Create your account; you join the team right away."), err.el,
    field("Email", email, { required: true }),
    field("Username", username, { required: true, help: "Lowercase letters, digits, '.', '-' and '_'." }),
    field("Password", password, { required: true }), submit,
    h("p", { class: "muted" }, "Already have an account? ",
      h("a", { href: `/login?next=${encodeURIComponent(location.pathname + location.search)}`, "data-nav": true },
        "Log in"), " and open the link again."));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.clear();
    const missing = [[email, "your email address"], [username, "a username"], [password, "a password"]]
      .find(([el]) => !el.value.trim());
    if (missing) { err.show(`Enter ${missing[1]}.`); missing[0].focus(); return; }
    submit.disabled = true;
    try {
      await api.post(`/users?iid=${encodeURIComponent(inviteId)}`, { email: email.value.trim(),
        username: username.value.trim(), password: password.value });
      await login(username.value.trim(), password.value);
      await onJoined(team);
    } catch (e) {
      submit.disabled = false;
      err.show(e instanceof ApiError && e.status === 400 && e.message ? e.message : inWords(e, "create an account"));
    }
  });
  replace(root, h("main", { id: "main", class: "login-page" }, form));
  email.focus();
}
