// The streamers list: state, current session, filter and search, add, controls.
import { api, get } from "../api.js";
import { act, avatar, CLEARABLE, confirmDialog, debounce, fmtBytes, fmtDuration, h, reasonOf, stateBadge, stateOf } from "../ui.js";

let streamers = [];
const sessions = new Map(); // streamer id -> its open session (live size)
let listEl = null;
let countEl = null;
let clock = null;
const filter = { q: "", state: "", platform: "" };

export function render(view) {
  const search = h("input", { type: "search", placeholder: "Search name, URL, title", "aria-label": "Search streamers", value: filter.q,
    oninput: (e) => { filter.q = e.target.value; draw(); } });
  const state = h("select", { "aria-label": "Filter by state", onchange: (e) => { filter.state = e.target.value; draw(); } },
    ["", "live", "offline", "paused", "error", "out of schedule"].map((s) => h("option", { value: s, selected: s === filter.state }, s || "any state")));
  const platform = h("select", { id: "platform-filter", "aria-label": "Filter by platform", onchange: (e) => { filter.platform = e.target.value; draw(); } });
  countEl = h("span", { class: "muted small" });
  listEl = h("div", { class: "streamers", id: "streamer-list" });
  view.append(
    h("div", { class: "row" }, h("h1", { class: "grow" }, "Streamers"), h("button", { id: "add-streamer", onclick: () => addDialog(view) }, "Add streamer")),
    h("div", { class: "row" }, search, state, platform, countEl),
    h("p"),
    listEl,
  );
  clock = setInterval(tick, 1000);
  load();
}

export function leave() {
  clearInterval(clock);
}

const reload = debounce(load, 250);

export function onEvent(event) {
  if (event.type === "session") {
    if (event.end_time) sessions.delete(event.streamer_id);
    else sessions.set(event.streamer_id, event);
    updateRow(event.streamer_id);
  } else if (event.type === "streamer") {
    const row = streamers.find((s) => s.id === event.id);
    if (row) {
      Object.assign(row, event);
      draw();
    } else reload();
  } else if (event.type === "streamers" || event.type === "poll") reload();
}

async function load() {
  try {
    const [page, open] = await Promise.all([get("/api/streamers?limit=500"), get("/api/sessions?limit=200")]);
    streamers = page.items;
    for (const s of open.items) {
      if (s.end_time) continue;
      const known = sessions.get(s.streamer_id);
      // the socket's figure counts the open segment too: keep the larger
      if (!known || known.id !== s.id) sessions.set(s.streamer_id, { ...s, size_bytes: s.total_size_bytes });
    }
    for (const [id, s] of sessions) {
      if (open.items.some((o) => o.id === s.id && o.end_time)) sessions.delete(id);
    }
    draw();
  } catch (err) {
    if (listEl) listEl.replaceChildren(h("p", { class: "error-text" }, err.message));
  }
}

function matches(s) {
  const session = sessions.get(s.id);
  if (filter.platform && s.platform !== filter.platform) return false;
  if (filter.state && stateOf(s).label !== filter.state && stateOf(s).key !== filter.state) return false;
  if (filter.q) {
    const hay = `${s.name} ${s.url} ${s.platform} ${s.title || ""} ${s.category || ""} ${session?.title || ""}`.toLowerCase();
    if (!hay.includes(filter.q.toLowerCase())) return false;
  }
  return true;
}

function draw() {
  if (!listEl) return;
  const select = document.getElementById("platform-filter");
  const platforms = [...new Set(streamers.map((s) => s.platform))].sort();
  select.replaceChildren(h("option", { value: "" }, "any platform"), ...platforms.map((p) => h("option", { value: p, selected: p === filter.platform }, p)));
  const shown = streamers.filter(matches);
  countEl.textContent = `${shown.length} of ${streamers.length}`;
  if (!streamers.length) {
    listEl.replaceChildren(h("p", { class: "muted" }, "No streamers yet: add one by pasting its URL."));
    return;
  }
  listEl.replaceChildren(...shown.map(row));
}

function recording(s) {
  const session = sessions.get(s.id);
  if (!session) return [];
  const secs = (Date.now() - new Date(session.start_time).getTime()) / 1000;
  return [
    "recording ",
    h("span", { class: "rec-time", dataset: { start: session.start_time } }, fmtDuration(secs)), " · ",
    h("span", { class: "rec-size" }, fmtBytes(session.size_bytes ?? session.total_size_bytes)),
  ];
}

// the stream's current title (the last check's, else the open session's) and area
function titleLine(s) {
  const title = s.title || sessions.get(s.id)?.title || "";
  if (!title && !s.category) return [];
  const line = [h("span", { class: "title" }, title || "(no title)")];
  if (s.category) line.push(h("span", { class: "category" }, ` · ${s.category}`));
  return line;
}

function row(s) {
  const paused = s.enabled === false;
  const controls = h("div", { class: "actions" },
    paused
      ? h("button", { class: "ghost", onclick: (e) => control(e.target, s, "resume") }, "Resume")
      : h("button", { class: "ghost", onclick: (e) => control(e.target, s, "pause") }, "Pause"),
    h("button", { class: "ghost", disabled: paused, onclick: (e) => control(e.target, s, "check") }, "Check now"),
    !paused && CLEARABLE.has(s.state) ? h("button", { class: "ghost", onclick: (e) => control(e.target, s, "clear-error") }, "Clear error") : null,
    h("button", { class: "ghost", onclick: (e) => remove(e.target, s) }, "Delete"),
  );
  const reason = reasonOf(s);
  return h("article", { class: "streamer", dataset: { id: s.id, name: s.name }, "aria-label": s.name },
    avatar(s.name, s.avatar_url),
    h("div", {},
      h("a", { class: "name", href: `#/streamers/${s.id}` }, s.name), " ",
      h("span", { class: "muted small" }, s.platform), h("br"),
      stateBadge(s)),
    h("div", { class: "meta" },
      h("div", { class: "current" }, ...titleLine(s)),
      reason ? h("div", { class: `reason small ${stateOf(s).cls === "error" ? "error-text" : ""}` }, reason) : null,
      h("div", { class: "recording" }, ...recording(s))),
    controls,
  );
}

function updateRow(streamerId) {
  const el = listEl?.querySelector(`[data-id="${streamerId}"]`);
  const s = streamers.find((x) => x.id === streamerId);
  if (!el || !s) return;
  el.querySelector(".recording").replaceChildren(...recording(s));
  el.querySelector(".current").replaceChildren(...titleLine(s));
}

function tick() {
  for (const el of document.querySelectorAll(".rec-time")) {
    el.textContent = fmtDuration((Date.now() - new Date(el.dataset.start).getTime()) / 1000);
  }
}

async function control(button, s, what) {
  const done = { pause: `${s.name} paused`, resume: `${s.name} resumed`, check: `checking ${s.name}`, "clear-error": `${s.name}: error cleared` }[what];
  const result = await act(button, () => api("POST", `/api/streamers/${s.id}/${what}`), done);
  if (result !== undefined) load();
}

async function remove(button, s) {
  if (!(await confirmDialog(`Delete ${s.name}? Its recordings stay on disk.`, "Delete"))) return;
  const result = await act(button, () => api("DELETE", `/api/streamers/${s.id}`), `${s.name} deleted`);
  if (result !== undefined) load();
}

// Paste a URL, see what srec finds there (/api/parse), then save it
function addDialog(view) {
  const url = h("input", { id: "add-url", type: "url", required: true, placeholder: "https://…", style: "width:100%" });
  const name = h("input", { id: "add-name", required: true, style: "width:100%" });
  const preview = h("div", { id: "add-preview", class: "small", "aria-live": "polite" });
  const previewBtn = h("button", { type: "button", class: "ghost", id: "add-preview-btn" }, "Preview");
  const save = h("button", { type: "submit", id: "add-save" }, "Add");
  const dialog = h("dialog", { "aria-label": "Add a streamer" });
  previewBtn.onclick = async () => {
    preview.replaceChildren(h("span", { class: "muted" }, "Asking the platform…"));
    const result = await act(previewBtn, () => api("POST", "/api/parse", { url: url.value }));
    if (!result) return preview.replaceChildren();
    const st = result.status;
    if (!name.value) name.value = st.author || result.channel.reference || "";
    preview.replaceChildren(h("div", { class: "row" },
      avatar(st.author || result.channel.reference, st.avatar_url),
      h("div", {},
        h("strong", {}, result.channel.platform), " · ", result.channel.reference || "", h("br"),
        h("span", { class: "badge" }, st.outcome), " ", st.title || st.detail || "",
        result.streams.length ? h("div", { class: "muted" }, `${result.streams.length} stream(s): ${result.streams.map((s) => s.quality).join(", ")}`) : null)));
  };
  const form = h("form", {
    method: "dialog",
    onsubmit: async (e) => {
      e.preventDefault();
      const created = await act(save, () => api("POST", "/api/streamers", { name: name.value, url: url.value }), `${name.value} added`);
      if (created) {
        dialog.close();
        load();
      }
    },
  },
  h("h2", {}, "Add a streamer"),
  h("label", { for: "add-url" }, "Channel or stream URL"), url,
  h("p", { class: "row" }, previewBtn), preview,
  h("label", { for: "add-name" }, "Name (its folder)"), name,
  h("menu", {}, h("button", { type: "button", class: "ghost", onclick: () => dialog.close() }, "Cancel"), save));
  dialog.append(form);
  dialog.addEventListener("close", () => dialog.remove());
  view.append(dialog);
  dialog.showModal();
  url.focus();
}
