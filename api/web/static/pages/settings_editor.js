// One editor for a configuration level: each field's effective value, the level it
// comes from, and this level's own value (empty = inherit from the levels below).
import { act, h } from "../ui.js";

function show(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

// "30" -> 30, "true" -> true, "{...}" -> object; anything else stays a string
function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * @param {object} opts
 * @param {object} opts.effective field -> effective value
 * @param {object} opts.sources field (dotted) -> level
 * @param {object} opts.own field -> this level's value
 * @param {string} opts.level the level's name (a source equal to it is "here")
 * @param {(patch: object) => Promise} opts.save sends {field: value|null}
 */
export function settingsEditor({ effective, sources, own, level, save }) {
  const inputs = new Map();
  const rows = Object.keys(effective).sort().map((field) => {
    const input = h("input", { id: `setting-${field}`, name: field, value: show(own[field]), placeholder: show(effective[field]), "aria-label": `${field} at the ${level} level`, style: "width:100%" });
    inputs.set(field, input);
    const from = sources[field] || Object.entries(sources).find(([k]) => k.startsWith(`${field}.`))?.[1] || "default";
    return h("tr", { dataset: { field } },
      h("th", { scope: "row" }, h("code", {}, field)),
      h("td", { class: "effective" }, h("code", {}, show(effective[field]))),
      h("td", {}, h("span", { class: `badge source ${from === level ? "ok" : ""}` }, from)),
      h("td", {}, input));
  });
  const button = h("button", { type: "submit", id: "save-settings" }, "Save");
  return h("form", {
    onsubmit: async (e) => {
      e.preventDefault();
      const patch = {};
      for (const [field, input] of inputs) {
        const text = input.value.trim();
        const before = show(own[field]);
        if (text === before) continue;
        patch[field] = text === "" ? null : parse(text);
      }
      if (!Object.keys(patch).length) return;
      await act(button, () => save(patch), "Saved");
    },
  },
  h("div", { class: "scroll" }, h("table", { class: "settings" },
    h("thead", {}, h("tr", {}, h("th", {}, "field"), h("th", {}, "effective"), h("th", {}, "from"), h("th", {}, `${level} value (empty: inherit)`))),
    h("tbody", {}, rows))),
  h("p", {}, button));
}
