// The runs list: every run, filterable by workspace and status, updated live.
// Live: `GET /events` (every run's events) says when to re-read `GET /runs`; when that
// stream is unavailable the list is polled every 2 s while the page is visible.

import { api } from "../api.js";
import { announce, badge, h, refresher, replace, setText, updateBadge } from "../dom.js";
import {
  baseName,
  elapsedMs,
  formatClock,
  formatCost,
  formatDuration,
  formatTasks,
  fullTime,
  isTerminal,
} from "../format.js";
import { EventStream } from "../sse.js";
import { rememberListQuery } from "./list_address.js";

const PAGE_SIZE = 100;
const POLL_MS = 2000;
const SAFETY_POLL_MS = 15_000; // also picks up runs another host changed
const STATUSES = ["PENDING", "RUNNING", "PAUSED", "COMPLETED", "FAILED", "CANCELED"];
const STATUS_FILTERS = [
  ["", "All statuses"],
  ["PENDING,RUNNING,PAUSED", "Active"],
  ["COMPLETED,FAILED,CANCELED", "Finished"],
  ...STATUSES.map((status) => [status, status]),
];
const COLUMNS = ["Status", "Name", "Workspace", "Branch", "Iter", "Tasks", "Cost", "Started", "Elapsed"];

function positiveInt(text, fallback) {
  const value = Number.parseInt(text || "", 10);
  return Number.isFinite(value) && value >= 1 ? value : fallback;
}

export function mountRuns(container, params, ctx) {
  const filter = {
    workspace: params.get("workspace") || "",
    status: params.get("status") || "",
    page: positiveInt(params.get("page"), 1),
  };
  // Runs per page: `per=` in the address changes it (the API serves at most 1000).
  const pageSize = Math.min(1000, positiveInt(params.get("per"), PAGE_SIZE));
  const workspaces = new Set(filter.workspace ? [filter.workspace] : []);
  const rows = new Map(); // run id -> {row, cells, run}
  const controller = new AbortController();
  const timers = [];
  let loaded = false;
  let polling = null;

  const count = h("span", { class: "count", "aria-live": "polite" });
  const workspaceSelect = h("select", { id: "filter-workspace", name: "workspace" });
  const statusSelect = h(
    "select",
    { id: "filter-status", name: "status" },
    STATUS_FILTERS.map(([value, label]) => h("option", { value }, label)),
  );
  statusSelect.value = filter.status;
  const tbody = h("tbody");
  const empty = h("p", { class: "empty", hidden: true });
  const newer = h("button", { type: "button", onclick: () => turnPage(-1) }, "← Newer");
  const older = h("button", { type: "button", onclick: () => turnPage(1) }, "Older →");
  const pageInfo = h("span", { class: "page-info", "aria-live": "polite" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages of runs", hidden: true }, newer, pageInfo, older);
  const error = h("p", { class: "form-error", role: "alert" });
  const newRun = h("a", { class: "button-link primary new-run-link", href: "#/new" }, "New run");

  replace(
    container,
    h(
      "section",
      { class: "runs-view", "aria-labelledby": "runs-title" },
      h("div", { class: "view-head" }, h("h1", { id: "runs-title" }, "Runs"), count, newRun),
      h(
        "form",
        { class: "filters", role: "search", onsubmit: (event) => event.preventDefault() },
        h("span", { class: "filter" }, h("label", { for: "filter-workspace" }, "Workspace"), workspaceSelect),
        h("span", { class: "filter" }, h("label", { for: "filter-status" }, "Status"), statusSelect),
      ),
      error,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "runs" },
          h("caption", { class: "visually-hidden" }, "Runs, newest first"),
          h("thead", {}, h("tr", {}, COLUMNS.map((name) => h("th", { scope: "col" }, name)))),
          tbody,
        ),
      ),
      empty,
      pager,
    ),
  );
  renderWorkspaceOptions();
  rememberListQuery(listQuery());
  pointNewRun();

  const refresh = refresher(async () => {
    let offset;
    let body;
    for (;;) {
      offset = (filter.page - 1) * pageSize;
      body = await api.listRuns(
        { workspace_root: filter.workspace, status: filter.status, limit: pageSize, offset },
        controller.signal,
      );
      const lastPage = Math.max(1, Math.ceil(body.total / pageSize));
      if (filter.page <= lastPage) break;
      // Runs went away (scrapped elsewhere) and this page with them: show the last one.
      filter.page = lastPage;
      showAddress();
    }
    setText(error, "");
    render(body.runs, body.total, offset);
  }, 200);
  const refreshOrReport = () =>
    refresh.now().catch((failure) => setText(error, `Could not load runs: ${failure.message}`));

  function listQuery() {
    const query = new URLSearchParams();
    if (filter.workspace) query.set("workspace", filter.workspace);
    if (filter.status) query.set("status", filter.status);
    if (pageSize !== PAGE_SIZE) query.set("per", String(pageSize));
    if (filter.page > 1) query.set("page", String(filter.page));
    return query.toString();
  }

  /** "New run" starts in the workspace the list is filtered to, if any. */
  function pointNewRun() {
    newRun.href = filter.workspace ? `#/new?workspace=${encodeURIComponent(filter.workspace)}` : "#/new";
  }

  function showAddress() {
    pointNewRun();
    const text = listQuery();
    history.replaceState(null, "", text ? `#/?${text}` : "#/");
    rememberListQuery(text);
  }

  function onFilterChange() {
    filter.workspace = workspaceSelect.value;
    filter.status = statusSelect.value;
    filter.page = 1;
    showAddress();
    refresh.now();
  }

  function turnPage(step) {
    filter.page = Math.max(1, filter.page + step);
    showAddress();
    refresh.now().then(() => tbody.querySelector("a")?.focus({ preventScroll: true }));
  }
  workspaceSelect.addEventListener("change", onFilterChange);
  statusSelect.addEventListener("change", onFilterChange);

  function renderWorkspaceOptions() {
    const options = [h("option", { value: "" }, "All workspaces")];
    for (const path of [...workspaces].sort()) options.push(h("option", { value: path, title: path }, path));
    replace(workspaceSelect, options);
    workspaceSelect.value = filter.workspace;
  }

  function render(runs, total, offset) {
    const before = workspaces.size;
    for (const run of runs) workspaces.add(run.workspace_root);
    if (workspaces.size !== before) renderWorkspaceOptions();

    const seen = new Set();
    runs.forEach((run, index) => {
      seen.add(run.id);
      let entry = rows.get(run.id);
      if (!entry) {
        entry = createRow(run);
        rows.set(run.id, entry);
      } else if (loaded && entry.run.status !== run.status) {
        announce(`${run.name}: ${run.status}`);
      }
      entry.run = run;
      updateRow(entry);
      // Move only rows out of place: moving a focused row would drop its focus.
      if (tbody.children[index] !== entry.row) tbody.insertBefore(entry.row, tbody.children[index] || null);
    });
    for (const [id, entry] of rows) {
      if (!seen.has(id)) {
        entry.row.remove();
        rows.delete(id);
      }
    }
    const range = runs.length ? `${offset + 1}–${offset + runs.length}` : "0";
    setText(count, total > runs.length ? `${range} of ${total}` : `${total}`);
    pager.hidden = total <= pageSize;
    setText(pageInfo, `Page ${filter.page} of ${Math.max(1, Math.ceil(total / pageSize))}`);
    newer.disabled = filter.page <= 1;
    older.disabled = offset + runs.length >= total;
    empty.hidden = runs.length > 0;
    setText(
      empty,
      filter.workspace || filter.status
        ? "No runs match these filters."
        : "No runs yet. Start one with New run, or `loopctl run specs/<spec>.md`.",
    );
    loaded = true;
  }

  function createRow(run) {
    const cells = {
      status: badge(run.status),
      link: h("a", { href: `#/runs/${encodeURIComponent(run.id)}` }),
      workspace: h("span"),
      branch: h("span", { class: "mono" }),
      iteration: h("span"),
      tasks: h("span"),
      progress: h("progress", { max: 1, value: 0, "aria-hidden": "true" }),
      cost: h("span"),
      started: h("time"),
      elapsed: h("span", { class: "elapsed" }),
    };
    const td = (label, ...children) => h("td", { dataset: { label } }, children);
    const row = h(
      "tr",
      { dataset: { runId: run.id } },
      td("Status", cells.status),
      td("Name", cells.link),
      td("Workspace", cells.workspace),
      td("Branch", cells.branch),
      td("Iter", cells.iteration),
      td("Tasks", h("span", { class: "tasks" }, cells.tasks, cells.progress)),
      td("Cost", cells.cost),
      td("Started", cells.started),
      td("Elapsed", cells.elapsed),
    );
    return { row, cells, run };
  }

  function updateRow({ cells, run }) {
    updateBadge(cells.status, run.status);
    setText(cells.link, run.name || run.id);
    cells.link.title = run.id;
    setText(cells.workspace, baseName(run.workspace_root));
    cells.workspace.title = run.workspace_root;
    setText(cells.branch, run.worktree?.run_branch || "—");
    setText(cells.iteration, run.iteration || "—");
    setText(cells.tasks, formatTasks(run));
    cells.progress.max = Math.max(1, run.tasks_total);
    cells.progress.value = run.tasks_done;
    cells.progress.hidden = !run.tasks_total;
    setText(cells.cost, formatCost(run.cost_usd));
    setText(cells.started, run.started_at ? formatClock(run.started_at) : "—");
    cells.started.title = fullTime(run.started_at || run.created_at);
    if (run.started_at) cells.started.setAttribute("datetime", run.started_at);
    updateElapsed(cells, run);
  }

  function updateElapsed(cells, run) {
    const text = run.started_at
      ? formatDuration(elapsedMs(run.started_at, isTerminal(run.status) ? run.finished_at || run.updated_at : null))
      : run.status === "PENDING" ? "queued" : "—";
    setText(cells.elapsed, text);
  }

  function startPolling() {
    if (polling) return;
    ctx.setConnection("polling", "polling");
    polling = setInterval(() => {
      if (document.visibilityState === "visible") refresh();
    }, POLL_MS);
  }

  const stream = new EventStream("events", {
    onMessage: (message) => (message.type === "ready" || message.type === "lagged" ? refresh.now() : refresh()),
    onState: (state) => {
      if (state === "open") ctx.setConnection("live", "live");
      else if (state === "reconnecting") ctx.setConnection("reconnecting", "reconnecting");
      else if (state === "suspended") ctx.setConnection("idle", "paused (tab hidden)");
      else if (state === "failed") startPolling();
    },
  }).start();

  refreshOrReport();
  timers.push(
    setInterval(() => {
      for (const entry of rows.values()) if (!isTerminal(entry.run.status)) updateElapsed(entry.cells, entry.run);
    }, 1000),
    setInterval(() => {
      if (document.visibilityState === "visible") refresh();
    }, SAFETY_POLL_MS),
  );

  return {
    destroy() {
      stream.close();
      refresh.stop();
      controller.abort();
      timers.forEach(clearInterval);
      if (polling) clearInterval(polling);
    },
  };
}
