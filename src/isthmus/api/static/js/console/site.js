// System Console › Site: the settings a newcomer needs first — the address people use, and who may sign up.

import { api } from "../api.js";
import { announce, h } from "../dom.js";
import { inWords } from "../errors.js";
import { errorBox, field, flashStatus } from "../ui.js";

export class SitePage {
  constructor() {
    this.el = h("div", {}, h("div", { class: "page-head" }, h("h1", {}, "Site and sign-up")),
      h("p", { class: "list-status", role: "status" }, "Loading settings…"));
  }

  async load() {
    let cfg;
    const err = errorBox();
    try {
      cfg = await api.get("/config");
    } catch (e) {
      err.show(`Could not load the settings: ${inWords(e, "change the server's settings")}`);
      this.el.replaceChildren(h("h1", {}, "Site and sign-up"), err.el);
      return;
    }
    const siteUrl = h("input", { type: "url", value: cfg.ServiceSettings?.SiteURL || "", spellcheck: "false" });
    const creation = h("input", { type: "checkbox", checked: Boolean(cfg.TeamSettings?.EnableUserCreation) });
    const open = h("input", { type: "checkbox", checked: Boolean(cfg.TeamSettings?.EnableOpenServer) });
    const saved = h("span", { class: "saved", role: "status" });
    const save = h("button", { type: "submit", class: "btn btn-primary" }, "Save settings");
    const form = h("form", { class: "card stack", "aria-label": "Site and sign-up settings", novalidate: true }, err.el,
      field("Site URL", siteUrl, { help: "The address people and connected workspaces use to reach this server, " +
        "for example https://chat.example.com. Links and invitations are built from it." }),
      field("Enable account creation", creation, { help: "When off, only system admins can create accounts " +
        "(System Console › Users)." }),
      field("Enable open sign-up", open, { help: "When on, anyone who can reach the server can create an account. " +
        "When off, people sign up with a team's invite link (System Console › Teams)." }),
      h("div", { class: "form-actions" }, save, saved));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      err.clear();
      const url = siteUrl.value.trim();
      if (url && !/^https?:\/\/[^/\s]+/.test(url)) {
        err.show("The site URL starts with http:// or https://, for example https://chat.example.com.");
        siteUrl.focus();
        return;
      }
      save.disabled = true;
      try {
        await api.put("/config/patch", { ServiceSettings: { SiteURL: url },
          TeamSettings: { EnableUserCreation: creation.checked, EnableOpenServer: open.checked } });
        flashStatus(saved, "Settings saved.");
        announce("Settings saved");
      } catch (e) {
        err.show(`Could not save: ${inWords(e, "change the server's settings")}`);
      } finally {
        save.disabled = false;
      }
    });
    this.el.replaceChildren(h("div", { class: "page-head" }, h("h1", {}, "Site and sign-up")), form);
  }
}
