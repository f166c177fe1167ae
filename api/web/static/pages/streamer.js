// One streamer: controls, sessions, effective configuration, settings, filters, events.
import { api, get } from "../api.js";
import { act, avatar, CLEARABLE, confirmDialog, debounce, fmtBytes, fmtDuration, fmtTime, h, loading, stateBadge } from "../ui.js";
import { settingsEditor } from "./settings_editor.js";

const TABS = ["sessions", "config", "filters", "events"];
const FILTER_EXAMPLES = {
  time_window: { type: "time_window", days_of_week: ["Friday", "Saturday"], start_time: "20:00", end_time: "02:00" },
  cron: { type: "cron", expression: "* 20-23 * * 1-5" },
  keyword: { type: "keyword", include: [], exclude: ["rerun"] },
  category: { type: "category", categories: ["Just Chatting"] },
  regex: { type: "regex", pattern: "^\\[live\\]", case_insensitive: true, exclude: false },
};

let id = null;
let tab = "sessions";
let head = null;
let body = null;

export function render(view, [streamerId], params) {
  id = Number(streamerId);
  tab = TABS.includes(params.get("tab")) ? params.get("tab") : "sessions";
  head = h("div", {}, loading());
  body = h("section", { id: "tab-body" });
  const tabs = h("nav", { class: "tabs", "aria-label": "Streamer sections" },
    TABS.map((t) => h("a", { href: `#/streamers/${id}?tab=${t}`, "aria-current": t === tab ? "true" : "false", id: `tab-${t}` }, t)));
  view.append(head, tabs, body);
  drawHead();
  drawTab();
}

const reloadAll = debounce(() => {
  drawHead();
  if (tab === "sessions" || tab === "config") drawTab();
}, 300);

export function onEvent(event) {
  if (event.type === "poll") reloadAll();
  else if (event.type === "streamer" && event.id === id) drawHead();
  else if ((event.type === "session" || event.type === "segment") && event.streamer_id === id && tab === "sessions") reloadAll();
}

async function drawHead() {
  try {
    const s = await get(`/api/streamers/${id}`);
    const paused = s.enabled === false;
    head.replaceChildren(
      h("div", { class: "row" },
        avatar(s.name, s.avatar_url),
        h("h1", { class: "grow" }, s.name, " ", stateBadge(s)),
        paused
          ? h("button", { class: "ghost", onclick: (e) => control(e.target, "resume") }, "Resume")
          : h("button", { class: "ghost", onclick: (e) => control(e.target, "pause") }, "Pause"),
        h("button", { class: "ghost", disabled: paused, onclick: (e) => control(e.target, "check") }, "Check now"),
        !paused && CLEARABLE.has(s.state) ? h("button", { class: "ghost", onclick: (e) => control(e.target, "clear-error") }, "Clear error") : null,
        h("button", { class: "danger", onclick: (e) => remove(e.target, s) }, "Delete")),
      h("div", { class: "kv small" },
        s.title ? [h("span", { class: "muted" }, "Title"), h("span", { id: "streamer-title" }, s.title, s.category ? h("span", { class: "muted" }, ` · ${s.category}`) : null)] : null,
        s.state_reason && !paused ? [h("span", { class: "muted" }, "Why"), h("span", { id: "state-reason" }, s.state_reason)] : null,
        h("span", { class: "muted" }, "URL"), h("a", { href: s.url, rel: "noreferrer", target: "_blank" }, s.url),
        h("span", { class: "muted" }, "Platform"), h("span", {}, s.platform, s.channel ? ` · ${s.channel}` : ""),
        s.last_error ? [h("span", { class: "muted" }, "Last error"), h("span", { class: "error-text" }, `${s.last_error} (since ${fmtTime(s.last_error_at)})`)] : null,
        h("span", { class: "muted" }, "Workflow"), h("code", {}, `streamer-${s.id}`)));
  } catch (err) {
    head.replaceChildren(h("p", { class: "error-text" }, err.message));
  }
}

async function control(button, what) {
  if ((await act(button, () => api("POST", `/api/streamers/${id}/${what}`), `${what}: done`)) !== undefined) drawHead();
}

async function remove(button, s) {
  if (!(await confirmDialog(`Delete ${s.name}? Its recordings stay on disk.`, "Delete"))) return;
  if ((await act(button, () => api("DELETE", `/api/streamers/${id}`), `${s.name} deleted`)) !== undefined) location.hash = "#/";
}

async function drawTab() {
  const draw = { sessions: drawSessions, config: drawConfig, filters: drawFilters, events: drawEvents }[tab];
  try {
    const content = await draw();
    body.replaceChildren(content);
  } catch (err) {
    body.replaceChildren(h("p", { class: "error-text" }, err.message));
  }
}

async function drawSessions() {
  const page = await get(`/api/sessions?streamer_id=${id}&limit=20`);
  if (!page.items.length) return h("p", { class: "muted" }, "No sessions yet.");
  // segment and danmu counts of the sessions shown (one request each)
  const segments = await Promise.all(page.items.map((s) => get(`/api/sessions/${s.id}/segments`).catch(() => ({ items: [] }))));
  return h("div", { class: "scroll" }, h("table", { id: "sessions" },
    h("thead", {}, h("tr", {}, ["session", "title", "started", "length", "size", "segments", "danmu"].map((t) => h("th", {}, t)))),
    h("tbody", {}, page.items.map((s, i) => {
      const segs = segments[i].items;
      const open = !s.end_time;
      const size = open ? segs.reduce((n, x) => n + x.size_bytes, 0) : s.total_size_bytes;
      const length = open ? (Date.now() - new Date(s.start_time)) / 1000 : (new Date(s.end_time) - new Date(s.start_time)) / 1000;
      return h("tr", { dataset: { session: s.id } },
        h("td", {}, h("a", { href: `#/sessions/${s.id}` }, `#${s.id}`), open ? h("span", { class: "badge live" }, "recording") : null),
        h("td", {}, s.title || ""),
        h("td", {}, fmtTime(s.start_time)),
        h("td", { class: "num" }, fmtDuration(length)),
        h("td", { class: "num session-size" }, fmtBytes(size)),
        h("td", { class: "num" }, segs.length),
        h("td", { class: "num" }, segs.reduce((n, x) => n + (x.danmu?.message_count || 0), 0)));
    }))));
}

async function drawConfig() {
  const [streamer, effective, templates] = await Promise.all([
    get(`/api/streamers/${id}`), get(`/api/streamers/${id}/config`), get("/api/templates?limit=500").catch(() => ({ items: [] })),
  ]);
  const template = h("select", { id: "template", "aria-label": "Template" },
    h("option", { value: "" }, "no template"),
    (templates.items || templates).map((t) => h("option", { value: t.id, selected: t.id === streamer.template_id }, t.name)));
  const useTemplate = h("button", { type: "button", class: "ghost", onclick: async (e) => {
    const value = template.value ? Number(template.value) : null;
    if ((await act(e.target, () => api("PATCH", `/api/streamers/${id}`, { template_id: value }), "Template set")) !== undefined) drawTab();
  } }, "Use template");
  const options = Object.entries(effective.platform_options || {});
  return h("div", {},
    h("p", { class: "muted small" }, "Each value comes from the most specific level that sets it: default → global → platform → template → streamer. Type a value to set it for this streamer; clear it to inherit."),
    h("div", { class: "row" }, h("label", { for: "template" }, "Template"), template, useTemplate),
    settingsEditor({
      effective: effective.config,
      sources: effective.sources,
      own: streamer.settings || {},
      level: "streamer",
      save: async (patch) => {
        await api("PATCH", `/api/streamers/${id}`, { settings: patch });
        drawTab();
      },
    }),
    options.length ? [h("h2", {}, "Platform options"), h("div", { class: "kv small" }, options.map(([k, v]) => [h("code", {}, k), h("span", {}, JSON.stringify(v), " ", h("span", { class: "badge" }, effective.platform_option_sources?.[k] || ""))]))] : null,
    optionsForm(streamer.platform_options || {}),
    Object.keys(effective.credentials || {}).length ? h("p", { class: "small muted" }, "Credentials set: ", Object.entries(effective.credentials).map(([k, lvl]) => `${k} (${lvl})`).join(", ")) : null);
}

// this streamer's own platform options (cookies, tokens, quality): merged into the
// stored ones; a field sent as null is inherited again, a masked secret is kept
function optionsForm(own) {
  const area = h("textarea", { id: "platform-options", rows: 4, "aria-label": "Platform options" }, JSON.stringify(own, null, 2));
  const save = h("button", { type: "submit", id: "save-options" }, "Save options");
  return h("form", { onsubmit: async (e) => {
    e.preventDefault();
    let body;
    try {
      body = JSON.parse(area.value);
    } catch (err) {
      return act(null, () => Promise.reject(new Error(`not JSON: ${err.message}`)));
    }
    if ((await act(save, () => api("PATCH", `/api/streamers/${id}`, { platform_options: body }), "Options saved")) !== undefined) drawTab();
  } }, h("label", { for: "platform-options" }, "This streamer's platform options (secrets show as **********; sending the mask back keeps them; null inherits)"), area, h("p", {}, save));
}

async function drawFilters() {
  const filters = await get(`/api/streamers/${id}/filters`);
  const items = filters.items || filters;
  const kind = h("select", { id: "filter-type", "aria-label": "Filter type", onchange: () => { spec.value = JSON.stringify(FILTER_EXAMPLES[kind.value], null, 2); } },
    Object.keys(FILTER_EXAMPLES).map((k) => h("option", { value: k }, k)));
  const spec = h("textarea", { id: "filter-spec", rows: 6, "aria-label": "Filter" }, JSON.stringify(FILTER_EXAMPLES.time_window, null, 2));
  const add = h("button", { type: "submit" }, "Add filter");
  return h("div", {},
    items.length
      ? h("table", { id: "filters" }, h("tbody", {}, items.map((f) => h("tr", {},
        h("td", {}, h("span", { class: "badge" }, f.type)),
        h("td", {}, h("code", { class: "small" }, JSON.stringify(Object.fromEntries(Object.entries(f).filter(([k]) => !["id", "streamer_id", "type", "created_at", "updated_at"].includes(k)))))),
        h("td", {}, h("button", { class: "ghost", onclick: async (e) => {
          if (!(await confirmDialog(`Delete this ${f.type} filter?`, "Delete"))) return;
          if ((await act(e.target, () => api("DELETE", `/api/streamers/${id}/filters/${f.id}`), "Filter deleted")) !== undefined) drawTab();
        } }, "Delete"))))))
      : h("p", { class: "muted" }, "No filters: every live stream is recorded."),
    h("h2", {}, "Add a filter"),
    h("form", { onsubmit: async (e) => {
      e.preventDefault();
      let body;
      try {
        body = JSON.parse(spec.value);
      } catch (err) {
        return act(null, () => Promise.reject(new Error(`not JSON: ${err.message}`)));
      }
      if ((await act(add, () => api("POST", `/api/streamers/${id}/filters`, body), "Filter added")) !== undefined) drawTab();
    } }, h("div", { class: "row" }, kind), spec, h("p", {}, add)));
}

async function drawEvents() {
  const page = await get(`/api/notifications/events?streamer_id=${id}&limit=50`);
  if (!page.items.length) return h("p", { class: "muted" }, "No events yet.");
  return h("table", { id: "events" }, h("tbody", {}, page.items.map((e) => h("tr", {},
    h("td", { class: "small" }, fmtTime(e.created_at)),
    h("td", {}, h("span", { class: "badge" }, e.type)),
    h("td", {}, e.summary)))));
}
