// Pipelines: runs with live progress, a run's DAG with each step's state, retry and
// cancel, presets, and "run a preset on a session".
import { api, get } from "../api.js";
import { act, confirmDialog, debounce, fmtTime, h, loading, progressBar } from "../ui.js";

let runId = null;
let box = null;

export function render(view, [run]) {
  runId = run ? Number(run) : null;
  box = h("div", {}, loading());
  view.append(box);
  load();
}

const reload = debounce(load, 300);

export function onEvent(event) {
  if (event.type === "poll" || event.type === "run" || (event.type === "job" && (!runId || event.run_id === runId))) reload();
}

async function load() {
  try {
    box.replaceChildren(runId ? await drawRun() : await drawRuns());
  } catch (err) {
    box.replaceChildren(h("p", { class: "error-text" }, err.message));
  }
}

function runProgress(steps) {
  if (!steps.length) return 0;
  return steps.reduce((n, s) => n + (s.status === "COMPLETED" ? 1 : s.progress || 0), 0) / steps.length;
}

async function drawRuns() {
  const [runs, jobs, presets] = await Promise.all([
    get("/api/pipeline/runs?limit=50"), get("/api/pipeline/jobs?limit=200"), get("/api/pipeline/presets"),
  ]);
  const byRun = new Map();
  for (const job of jobs.items) byRun.set(job.run_id, [...(byRun.get(job.run_id) || []), job]);
  const session = h("input", { id: "run-session", type: "number", min: 1, required: true, placeholder: "session id", "aria-label": "Session id" });
  const preset = h("select", { id: "run-preset", "aria-label": "Pipeline preset" }, presets.items.map((p) => h("option", { value: p.name }, p.name)));
  const segments = h("input", { id: "run-segments", placeholder: "segments: all, or 0,1", "aria-label": "Segment indexes (empty: all)", pattern: "[0-9, ]*" });
  const start = h("button", { type: "submit", id: "run-start" }, "Run");
  return h("div", {},
    h("h1", {}, "Pipelines"),
    h("form", { class: "row card", onsubmit: async (e) => {
      e.preventDefault();
      const started = await act(start, () => api("POST", "/api/pipeline/run", {
        session_id: Number(session.value),
        preset: preset.value,
        segments: segments.value.trim() ? segments.value.split(/[ ,]+/).filter(Boolean).map(Number) : undefined,
      }), "Pipeline started");
      if (started) location.hash = `#/pipelines/runs/${started.run_id}`;
    } }, h("strong", {}, "Run a preset on a session"), session, segments, preset, start),
    h("h2", {}, "Runs"),
    runs.items.length ? h("div", { class: "scroll" }, h("table", { id: "runs" },
      h("thead", {}, h("tr", {}, ["run", "kind", "status", "progress", "session", "created"].map((t) => h("th", {}, t)))),
      h("tbody", {}, runs.items.map((r) => h("tr", { dataset: { run: r.id } },
        h("td", {}, h("a", { href: `#/pipelines/runs/${r.id}` }, `#${r.id}`)),
        h("td", {}, r.kind),
        h("td", {}, h("span", { class: `badge ${r.status}` }, r.status)),
        h("td", {}, progressBar(r.status === "COMPLETED" ? 1 : runProgress(byRun.get(r.id) || []))),
        h("td", {}, r.session_id ? h("a", { href: `#/sessions/${r.session_id}` }, `#${r.session_id}`) : ""),
        h("td", { class: "small" }, fmtTime(r.created_at)))))))
      : h("p", { class: "muted" }, "No runs yet."),
    h("h2", {}, "Pipeline presets"),
    h("div", { class: "scroll" }, h("table", { id: "presets" }, h("tbody", {}, presets.items.map((p) => h("tr", { dataset: { preset: p.name } },
      h("td", {}, h("strong", {}, p.name), p.builtin ? h("span", { class: "badge" }, "built in") : null),
      h("td", { class: "small" }, p.description),
      h("td", { class: "small" }, (p.body.steps || []).map((s) => s.id).join(" → ")),
      h("td", {}, p.builtin ? null : h("button", { class: "ghost", onclick: async (e) => {
        if (!(await confirmDialog(`Delete preset ${p.name}?`, "Delete"))) return;
        if ((await act(e.target, () => api("DELETE", `/api/pipeline/presets/${p.id}`), "Preset deleted")) !== undefined) load();
      } }, "Delete"))))))),
    newPreset());
}

// a new pipeline preset: a named DAG, checked by the API (422 names each problem)
function newPreset() {
  const example = { name: "remux-upload", description: "", pipeline: { steps: [{ id: "remux", processor: "remux" }] } };
  const area = h("textarea", { id: "preset-new", rows: 7, "aria-label": "New pipeline preset" }, JSON.stringify(example, null, 2));
  const save = h("button", { type: "submit" }, "Create preset");
  return h("details", { class: "card" }, h("summary", {}, "New pipeline preset"),
    h("form", { onsubmit: async (e) => {
      e.preventDefault();
      let body;
      try {
        body = JSON.parse(area.value);
      } catch (err) {
        return act(null, () => Promise.reject(new Error(`not JSON: ${err.message}`)));
      }
      if ((await act(save, () => api("POST", "/api/pipeline/presets", body), "Preset saved")) !== undefined) load();
    } }, area, h("p", {}, save)));
}

async function drawRun() {
  const run = await get(`/api/pipeline/runs/${runId}`);
  const open = ["PENDING", "RUNNING"].includes(run.status);
  const retry = h("button", { class: "ghost", disabled: open, onclick: async (e) => { if ((await act(e.target, () => api("POST", `/api/pipeline/runs/${runId}/retry`, {}), "Retrying")) !== undefined) load(); } }, "Retry failed steps");
  const cancel = h("button", { class: "ghost", disabled: !open, onclick: async (e) => { if ((await act(e.target, () => api("POST", `/api/pipeline/runs/${runId}/cancel`, {}), "Cancelling")) !== undefined) load(); } }, "Cancel");
  return h("div", {},
    h("p", {}, h("a", { href: "#/pipelines" }, "← all runs")),
    h("div", { class: "row" }, h("h1", { class: "grow" }, `Run #${run.id} `, h("span", { class: `badge ${run.status}`, id: "run-status" }, run.status)), retry, cancel),
    h("div", { class: "kv small" },
      h("span", { class: "muted" }, "Workflow"), h("code", {}, run.workflow_id),
      h("span", { class: "muted" }, "Session"), run.session_id ? h("a", { href: `#/sessions/${run.session_id}` }, `#${run.session_id}`) : h("span", {}, "—"),
      h("span", { class: "muted" }, "Progress"), progressBar(run.status === "COMPLETED" ? 1 : runProgress(run.steps)),
      run.error ? [h("span", { class: "muted" }, "Error"), h("span", { class: "error-text" }, run.error)] : null),
    h("h2", {}, "Steps"),
    h("div", { class: "dag", id: "dag" }, run.steps.map((s) => h("div", { class: "step", dataset: { step: s.step_id, status: s.status } },
      h("div", {}, h("strong", {}, s.step_id), " ", h("span", { class: "muted small" }, `${s.processor} · ${s.queue}`)),
      h("span", { class: `badge ${s.status}` }, s.status),
      h("div", { class: "deps" }, s.depends_on.length ? `after ${s.depends_on.join(", ")}` : "first", s.progress_detail ? ` · ${s.progress_detail}` : ""),
      h("div", { class: "deps" }, progressBar(s.status === "COMPLETED" ? 1 : s.progress || 0)),
      s.error ? h("div", { class: "deps error-text" }, s.error) : null))));
}
