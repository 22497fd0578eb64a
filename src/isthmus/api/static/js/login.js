// The sign-in page.

import { login } from "./api.js";
import { h, replace } from "./dom.js";
import { errorBox, field } from "./ui.js";

export function renderLogin(root, onDone) {
  const loginId = h("input", { type: "text", name: "login_id", autocomplete: "username", autocapitalize: "none",
    spellcheck: "false" });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password" });
  const err = errorBox();
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block" }, "Log in");
  const form = h("form", { class: "login-form", "aria-labelledby": "login-title", novalidate: true },
    h("h1", { id: "login-title" }, "Log in to Isthmus"),
    err.el,
    field("Username or email", loginId, { required: true }),
    field("Password", password, { required: true }),
    submit);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.clear();
    if (!loginId.value.trim() || !password.value) {
      err.show("Enter your username (or email) and password.");
      (loginId.value.trim() ? password : loginId).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = "Logging in…";
    try {
      await login(loginId.value.trim(), password.value);
      onDone();
    } catch (e) {
      err.show(e.message || "Login failed.");
      password.value = "";
      password.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = "Log in";
    }
  });
  replace(root, h("main", { id: "main", class: "login-page" }, form));
  loginId.focus();
}
