// The dashboard's entry: theme, token gate, hash routes (#/ runs, #/runs/<id> one run,
// #/new a new run).

import { api, ApiError, AuthRequired, clearToken, getToken, onAuthRequired } from "./api.js";
import { h, replace, setText } from "./dom.js";
import { mountNewRun } from "./views/new_run.js";
import { mountRun } from "./views/run.js";
import { mountRuns } from "./views/runs.js";
import { askForToken } from "./views/token.js";

const THEMES = ["system", "light", "dark"];
const THEME_KEY = "agentloop.theme";
const main = document.getElementById("main");
let current = null; // the mounted view: {destroy()}
let prompting = false;

function applyTheme(theme) {
  const root = document.documentElement;
  if (theme === "system") delete root.dataset.theme;
  else root.dataset.theme = theme;
  const button = document.getElementById("theme-toggle");
  button.setAttribute("aria-label", `Theme: ${theme}. Switch theme`);
  setText(button.querySelector(".theme-label"), theme);
}

function setupTheme() {
  let theme = localStorage.getItem(THEME_KEY);
  if (!THEMES.includes(theme)) theme = "system";
  applyTheme(theme);
  document.getElementById("theme-toggle").addEventListener("click", () => {
    theme = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
    localStorage.setItem(THEME_KEY, theme);
    applyTheme(theme);
  });
}

/** The live-update indicator in the top bar: "live", "polling", "reconnecting", ... */
function setConnection(state, label = state) {
  const node = document.getElementById("connection");
  node.dataset.state = state;
  setText(node.querySelector(".label"), label);
}

function parseRoute() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  const params = new URLSearchParams(query);
  const match = path.match(/^\/runs\/([^/]+)\/?$/);
  if (match) return { view: "run", id: decodeURIComponent(match[1]), params };
  if (/^\/new\/?$/.test(path)) return { view: "new", params };
  return { view: "runs", params };
}

function unmount() {
  current?.destroy();
  current = null;
}

function route({ focus = true } = {}) {
  if (prompting) return;
  unmount();
  updateTokenButton();
  const where = parseRoute();
  const ctx = { setConnection };
  if (where.view === "run") current = mountRun(main, where.id, ctx);
  else if (where.view === "new") current = mountNewRun(main, where.params);
  else current = mountRuns(main, where.params, ctx);
  if (focus) {
    window.scrollTo(0, 0);
    main.focus({ preventScroll: true });
  }
}

function updateTokenButton() {
  document.getElementById("forget-token").hidden = !getToken();
}

async function requireToken(message) {
  if (prompting) return;
  prompting = true;
  unmount();
  clearToken();
  updateTokenButton();
  setConnection("locked", "locked");
  try {
    await askForToken(main, message);
  } finally {
    prompting = false;
  }
  route();
}

/** Is the daemon reachable, and does it take our token (or none)? */
async function gate() {
  for (;;) {
    try {
      await api.checkToken(getToken() || "");
      return;
    } catch (error) {
      if (error instanceof AuthRequired) {
        const message = getToken() ? "loopd refused the saved token." : "";
        await requireToken(message);
        return;
      }
      setConnection("offline", "offline");
      await waitForRetry(error);
    }
  }
}

function waitForRetry(error) {
  return new Promise((resolve) => {
    const button = h("button", { type: "button", class: "primary", onclick: resolve }, "Try again");
    const reason = error instanceof ApiError ? error.message : String(error);
    replace(
      main,
      h(
        "section",
        { class: "card", role: "alert" },
        h("h1", {}, "Cannot reach loopd"),
        h("p", {}, reason),
        button,
      ),
    );
    setTimeout(resolve, 5000);
  });
}

async function boot() {
  setupTheme();
  document.getElementById("forget-token").addEventListener("click", () => {
    requireToken("Token forgotten. Enter it again to continue.");
  });
  onAuthRequired(() => requireToken("loopd no longer accepts the token; enter it again."));
  await gate();
  if (!current && !prompting) route({ focus: false });
  window.addEventListener("hashchange", () => route());
}

boot();
