// The dashboard's router: `#/path` picks a page; each page renders into <main>.
import { loggedIn, logout, onAuthChange } from "./api.js";
import { connect, disconnect, subscribe } from "./live.js";
import { h } from "./ui.js";
import * as loginPage from "./pages/login.js";
import * as streamersPage from "./pages/streamers.js";
import * as streamerPage from "./pages/streamer.js";
import * as sessionPage from "./pages/session.js";
import * as pipelinesPage from "./pages/pipelines.js";
import * as configPage from "./pages/config.js";
import * as systemPage from "./pages/system.js";

const ROUTES = [
  [/^\/login$/, loginPage, null],
  [/^\/$/, streamersPage, "streamers"],
  [/^\/streamers\/(\d+)$/, streamerPage, "streamers"],
  [/^\/sessions\/(\d+)$/, sessionPage, "streamers"],
  [/^\/pipelines(?:\/runs\/(\d+))?$/, pipelinesPage, "pipelines"],
  [/^\/config(?:\/(\w+))?$/, configPage, "config"],
  [/^\/system$/, systemPage, "system"],
];

let current = null;
let unsubscribe = null;

function route() {
  const path = location.hash.replace(/^#/, "").split("?")[0] || "/";
  if (!loggedIn() && path !== "/login") {
    location.hash = "#/login";
    return;
  }
  if (current?.leave) current.leave();
  if (unsubscribe) unsubscribe();
  unsubscribe = null;
  const view = document.getElementById("view");
  view.replaceChildren();
  document.querySelector(".top").hidden = !loggedIn();
  for (const [pattern, page, nav] of ROUTES) {
    const match = path.match(pattern);
    if (!match) continue;
    for (const link of document.querySelectorAll("[data-nav]")) {
      if (link.dataset.nav === nav) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    current = page;
    const params = new URLSearchParams(location.hash.split("?")[1] || "");
    page.render(view, match.slice(1), params);
    if (page.onEvent) unsubscribe = subscribe((event) => page.onEvent(event));
    return;
  }
  current = null;
  view.append(h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/" }, "Back to the streamers")));
}

window.addEventListener("hashchange", () => {
  route();
  // keyboard and screen-reader users land on the new page's content
  document.getElementById("view").focus({ preventScroll: true });
});
document.getElementById("logout").addEventListener("click", async () => {
  await logout();
});
onAuthChange((isIn) => {
  if (isIn) connect();
  else {
    disconnect();
    location.hash = "#/login";
  }
});
if (loggedIn()) connect();
route();
