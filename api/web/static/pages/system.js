// System: health of each part, degraded output roots, the workers on each task
// queue, disk space under the output roots, and each streamer's workflow in the
// Temporal UI.
import { get } from "../api.js";
import { fmtBytes, fmtTime, h, loading, progressBar } from "../ui.js";

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
    const [report, system, streamers] = await Promise.all([health(), get("/api/system"), get("/api/streamers?limit=500")]);
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
      h("h2", {}, "Disk space"), disks(system.disks),
      h("h2", {}, "Workers and task queues"), workers(system),
      h("h2", {}, "Workflows in the Temporal UI"),
      h("div", { class: "row small" }, h("label", { for: "temporal-ui" }, "Temporal UI"), ui),
      h("ul", {}, streamers.items.map((s) => h("li", {}, h("a", { href: `${base}/namespaces/default/workflows/streamer-${s.id}`, target: "_blank", rel: "noreferrer" }, `streamer-${s.id}`), ` · ${s.name}`))));
  } catch (err) {
    box.replaceChildren(h("p", { class: "error-text" }, err.message));
  }
}

function disks(items) {
  return h("div", { class: "scroll" }, h("table", { id: "disks" },
    h("thead", {}, h("tr", {}, ["output root", "used", "", "free", "total"].map((t) => h("th", {}, t)))),
    h("tbody", {}, items.map((d) => h("tr", { dataset: { path: d.path, low: d.low ? "true" : "false" } },
      h("td", {}, h("code", {}, d.path)),
      d.error
        ? h("td", { class: "error-text", colspan: 4 }, `cannot be read: ${d.error}`)
        : [
          h("td", { class: "num" }, fmtBytes(d.used_bytes)),
          h("td", {}, progressBar(d.total_bytes ? d.used_bytes / d.total_bytes : 0)),
          h("td", { class: "num" }, fmtBytes(d.free_bytes), " ",
            d.low ? h("span", { class: "badge error", title: `less than the ${fmtBytes(d.min_free_bytes)} minimum (SREC_MIN_FREE_SPACE_GIB)` }, "low") : null),
          h("td", { class: "num" }, fmtBytes(d.total_bytes)),
        ])))));
}

function workers(system) {
  if (system.temporal_error) return h("p", { class: "error-text", id: "workers-error" }, system.temporal_error);
  const rows = [];
  for (const q of system.queues) {
    const label = [h("code", {}, q.name), " ", h("span", { class: "muted small" }, q.kind)];
    const backlog = q.backlog == null ? "" : String(q.backlog);
    if (q.error) rows.push(h("tr", { dataset: { queue: q.name } }, h("td", {}, label), h("td", { class: "error-text", colspan: 4 }, q.error)));
    else if (!q.pollers.length) rows.push(h("tr", { dataset: { queue: q.name } }, h("td", {}, label), h("td", { class: "error-text", colspan: 3 }, "no worker polls it: its tasks wait"), h("td", { class: "num" }, backlog)));
    q.pollers.forEach((p, i) => rows.push(h("tr", { dataset: { queue: q.name, kind: q.kind } },
      h("td", {}, i === 0 ? label : null),
      h("td", { class: "identity" }, p.identity),
      h("td", { class: "small" }, fmtTime(p.last_access_time)),
      // 100,000/s is Temporal's default: the worker set no limit
      h("td", { class: "num small" }, p.rate_per_second && p.rate_per_second < 100000 ? `${p.rate_per_second}/s` : "none"),
      h("td", { class: "num" }, i === 0 ? backlog : ""))));
  }
  return h("div", { class: "scroll" }, h("table", { id: "workers" },
    h("thead", {}, h("tr", {}, ["queue", "worker", "last poll", "rate limit", "backlog"].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows)));
}
