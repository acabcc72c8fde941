// The run's plan, task by task with its marker ([ ] open, [x] done, [R] reviewed, [~] blocked,
// [ ]? optional; SPEC 3), grouped under the plan's headings. The run view calls `load()`
// whenever the run moves (its events, its output); a task whose marker changed is flagged
// for a moment.

import { api, ApiError } from "../api.js";
import { h, replace, setText } from "../dom.js";

const FLASH_MS = 2500;

export function createPlan(runId) {
  const summary = h("p", { class: "hint plan-summary" }, "Loading…");
  const body = h("div", { class: "plan-body" });
  const node = h(
    "section",
    { class: "card plan-card", "aria-labelledby": "plan-title" },
    h("h2", { id: "plan-title" }, "Plan"),
    summary,
    body,
  );
  const markers = new Map(); // line -> the marker last shown
  let shape = ""; // lines and texts: the list is rebuilt only when they change
  const items = new Map(); // line -> {item, marker}

  function task(entry) {
    const marker = h("code", { class: "plan-marker", "aria-label": `status ${entry.state}` }, entry.marker);
    const item = h(
      "li",
      { class: "plan-task", dataset: { line: entry.line, state: entry.state, counted: String(entry.counted) } },
      marker,
      " ",
      h("span", { class: "plan-text" }, entry.text),
    );
    items.set(entry.line, { item, marker });
    return item;
  }

  function rebuild(tasks) {
    items.clear();
    const groups = [];
    for (const entry of tasks) {
      if (!groups.length || groups[groups.length - 1].section !== entry.section) groups.push({ section: entry.section, tasks: [] });
      groups[groups.length - 1].tasks.push(entry);
    }
    replace(
      body,
      groups.map((group) => [
        group.section ? h("h3", { class: "plan-section" }, group.section) : null,
        h("ol", { class: "plan-tasks" }, group.tasks.map(task)),
      ]),
    );
  }

  function render(plan) {
    const nextShape = JSON.stringify(plan.tasks.map((t) => [t.line, t.text, t.section]));
    if (nextShape !== shape) {
      shape = nextShape;
      rebuild(plan.tasks);
    }
    for (const entry of plan.tasks) {
      const shown = items.get(entry.line);
      setText(shown.marker, entry.marker);
      shown.marker.setAttribute("aria-label", `status ${entry.state}`);
      shown.item.dataset.state = entry.state;
      const before = markers.get(entry.line);
      if (before !== undefined && before !== entry.marker) flash(shown.item);
      markers.set(entry.line, entry.marker);
    }
    const where = { worktree: "its worktree", branch: "the run branch", workspace: "the workspace (no run branch yet)" }[plan.source];
    setText(summary, `${plan.tasks_done}/${plan.tasks_total} tasks done · from ${where || plan.source}`);
    summary.title = plan.location;
    if (!plan.tasks.length) replace(body, h("p", { class: "empty" }, "The plan has no tasks."));
  }

  function flash(item) {
    item.classList.add("changed");
    setTimeout(() => item.classList.remove("changed"), FLASH_MS);
  }

  async function load(signal) {
    try {
      render(await api.getPlan(runId, signal));
    } catch (error) {
      if (error.name === "AbortError") return;
      shape = "";
      setText(summary, error instanceof ApiError && error.status === 404 ? `No plan: ${error.message}.` : `Could not read the plan: ${error.message}`);
      replace(body);
    }
  }

  return { node, load };
}
