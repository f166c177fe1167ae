// System: health of each part, degraded output roots, and each streamer's workflow
// in the Temporal UI.
import { get } from "../api.js";
import { fmtTime, h, loading } from "../ui.js";

const UI_KEY = "srec.temporalUi";

function temporalUi() {
  return localStorage.getItem(UI_KEY) || `${location.protocol}//${location.hostname}:8233`;
}

let box = null;

export function render(view) {
  box = h("div", {}, loading());
  view.append(h("h1", {}, "System"), box);
  load();
}

export function onEvent(event) {
  if (event.type === "poll") load();
}

async function health() {
  // 503 still carries the report: read it either way
  try {
    return await get("/api/health");
  } catch (err) {
    if (err.status === 503 && err.body?.components) return { ...err.body, status: "down" };
    throw err;
  }
}

async function load() {
  try {
    const [report, streamers] = await Promise.all([health(), get("/api/streamers?limit=500")]);
    const ui = h("input", { id: "temporal-ui", value: temporalUi(), "aria-label": "Temporal UI address", onchange: (e) => { localStorage.setItem(UI_KEY, e.target.value); load(); } });
    const base = temporalUi().replace(/\/$/, "");
    box.replaceChildren(
      h("p", {}, "Overall: ", h("span", { class: `badge ${report.status === "ok" ? "ok" : "error"}`, id: "health-status" }, report.status)),
      h("table", { id: "components" }, h("tbody", {}, Object.entries(report.components).map(([name, c]) => h("tr", {},
        h("td", {}, name), h("td", {}, h("span", { class: `badge ${c.status === "ok" ? "ok" : "error"}` }, c.status)),
        h("td", { class: "small" }, c.detail || "", c.pollers != null ? `${c.pollers} poller(s)` : ""))))),
      h("h2", {}, "Output roots"),
      report.degraded_roots.length
        ? h("table", {}, h("tbody", {}, report.degraded_roots.map((r) => h("tr", {}, h("td", {}, h("code", {}, r.path)), h("td", { class: "error-text" }, r.error || "degraded"), h("td", { class: "small" }, `since ${fmtTime(r.since)}, ${r.rejected} refused`)))))
        : h("p", { class: "muted" }, "Every output root is writable."),
      h("h2", {}, "Workflows in the Temporal UI"),
      h("div", { class: "row small" }, h("label", { for: "temporal-ui" }, "Temporal UI"), ui),
      h("ul", {}, streamers.items.map((s) => h("li", {}, h("a", { href: `${base}/namespaces/default/workflows/streamer-${s.id}`, target: "_blank", rel: "noreferrer" }, `streamer-${s.id}`), ` · ${s.name}`))));
  } catch (err) {
    box.replaceChildren(h("p", { class: "error-text" }, err.message));
  }
}
