// Configuration: the global level, platforms, templates, notification channels.
import { api, get } from "../api.js";
import { act, confirmDialog, h, loading } from "../ui.js";
import { settingsEditor } from "./settings_editor.js";

const TABS = ["global", "platforms", "templates", "notifications"];
let tab = "global";
let body = null;

export function render(view, [which]) {
  tab = TABS.includes(which) ? which : "global";
  body = h("section", {}, loading());
  view.append(h("h1", {}, "Configuration"),
    h("nav", { class: "tabs", "aria-label": "Configuration sections" }, TABS.map((t) => h("a", { href: `#/config/${t}`, "aria-current": t === tab ? "true" : "false" }, t))),
    body);
  draw();
}

async function draw() {
  try {
    body.replaceChildren(await { global: drawGlobal, platforms: drawPlatforms, templates: drawTemplates, notifications: drawChannels }[tab]());
  } catch (err) {
    body.replaceChildren(h("p", { class: "error-text" }, err.message));
  }
}

async function drawGlobal() {
  const g = await get("/api/config/global");
  return settingsEditor({
    effective: g.effective, sources: g.sources, own: g.settings, level: "global",
    save: async (patch) => {
      await api("PATCH", "/api/config/global", patch);
      draw();
    },
  });
}

// a JSON editor for a whole object, saved with `save(parsed)`
function jsonForm(id, value, save, label = "Save") {
  const area = h("textarea", { id, rows: 8, "aria-label": id }, JSON.stringify(value, null, 2));
  const button = h("button", { type: "submit" }, label);
  return h("form", { onsubmit: async (e) => {
    e.preventDefault();
    let parsed;
    try {
      parsed = JSON.parse(area.value);
    } catch (err) {
      return act(null, () => Promise.reject(new Error(`not JSON: ${err.message}`)));
    }
    if ((await act(button, () => save(parsed), "Saved")) !== undefined) draw();
  } }, area, h("p", {}, button));
}

async function drawPlatforms() {
  const platforms = await get("/api/config/platforms");
  return h("div", {}, h("p", { class: "muted small" }, "Fields and options for every streamer of a platform. Secrets show as **********; sending the mask back keeps them."),
    platforms.map((p) => h("details", { class: "card" },
      h("summary", {}, h("strong", {}, p.name), " ", Object.values(p.settings || {}).some((v) => v !== null) ? h("span", { class: "badge" }, "configured") : null),
      jsonForm(`platform-${p.name}`, { settings: p.settings, platform_options: p.platform_options }, (v) => api("PUT", `/api/config/platforms/${p.name}`, v)))));
}

async function drawTemplates() {
  const page = await get("/api/templates?limit=500");
  return h("div", {},
    page.items.map((t) => h("details", { class: "card" },
      h("summary", {}, h("strong", {}, t.name), ` · ${t.streamers} streamer(s)`),
      jsonForm(`template-${t.id}`, { name: t.name, settings: t.settings, platform_options: t.platform_options }, (v) => api("PATCH", `/api/templates/${t.id}`, v)),
      h("button", { class: "ghost", onclick: async (e) => {
        if (!(await confirmDialog(`Delete template ${t.name}?`, "Delete"))) return;
        if ((await act(e.target, () => api("DELETE", `/api/templates/${t.id}`), "Template deleted")) !== undefined) draw();
      } }, "Delete"))),
    h("h2", {}, "New template"),
    jsonForm("template-new", { name: "archive", settings: { container: "mkv" } }, (v) => api("POST", "/api/templates", v), "Create"));
}

async function drawChannels() {
  const [channels, kinds] = await Promise.all([get("/api/notifications/channels"), get("/api/notifications/channel-kinds")]);
  const items = channels.items || channels;
  return h("div", {},
    items.length ? h("table", { id: "channels" }, h("tbody", {}, items.map((c) => h("tr", {},
      h("td", {}, h("strong", {}, c.name), " ", h("span", { class: "badge" }, c.kind), c.enabled ? null : h("span", { class: "badge paused" }, "disabled")),
      h("td", { class: "small" }, `min priority ${c.min_priority} · ${c.event_types.length} event types`),
      h("td", {}, h("div", { class: "row" },
        h("button", { class: "ghost", onclick: async (e) => {
          const result = await act(e.target, () => api("POST", `/api/notifications/channels/${c.id}/test`));
          if (result) act(null, () => (result.delivered ? Promise.resolve() : Promise.reject(new Error(`not delivered: ${result.error}`))), "Test message delivered");
        } }, "Send a test"),
        h("button", { class: "ghost", onclick: async (e) => {
          if (!(await confirmDialog(`Delete channel ${c.name}?`, "Delete"))) return;
          if ((await act(e.target, () => api("DELETE", `/api/notifications/channels/${c.id}`), "Channel deleted")) !== undefined) draw();
        } }, "Delete"))))))) : h("p", { class: "muted" }, "No notification channels."),
    h("h2", {}, "New channel"),
    h("p", { class: "small muted" }, `Kinds: ${kinds.map((k) => k.kind || k.name).join(", ")}.`),
    jsonForm("channel-new", { name: "hook", kind: "webhook", min_priority: 5, config: { url: "https://example.com/hook" } }, (v) => api("POST", "/api/notifications/channels", v), "Create"));
}
