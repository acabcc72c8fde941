// A run's header: name, status, phase, branch -> target, tasks, tokens, cost, elapsed.

import { badge, h, setText, updateBadge } from "../dom.js";
import {
  baseName,
  elapsedMs,
  formatClock,
  formatCost,
  formatDuration,
  formatTasks,
  formatTokens,
  fullTime,
  isTerminal,
} from "../format.js";

const FIELDS = [
  ["phase", "Phase"],
  ["iteration", "Iteration"],
  ["branch", "Branch"],
  ["tasks", "Tasks"],
  ["tokens", "Tokens in / out"],
  ["cost", "Cost"],
  ["elapsed", "Elapsed"],
  ["started", "Started"],
  ["agent", "Agent"],
  ["workspace", "Workspace"],
  ["reason", "Reason"],
];

export function createHeader(runId) {
  const title = h("h1", { id: "run-title" }, runId);
  const status = badge("PENDING");
  const values = {};
  const rows = {};
  const list = h("dl", { class: "facts" });
  for (const [key, label] of FIELDS) {
    values[key] = h("dd", { dataset: { field: key } });
    rows[key] = h("div", { class: "fact" }, h("dt", {}, label), values[key]);
    list.append(rows[key]);
  }
  const progress = h("progress", { max: 1, value: 0, "aria-hidden": "true" });
  values.tasks.after(progress);
  const node = h(
    "header",
    { class: "run-head" },
    h(
      "div",
      { class: "run-title-line" },
      title,
      h("span", { id: "run-status", role: "status", "aria-label": "Run status" }, status),
    ),
    h("p", { class: "hint mono run-id" }, runId),
    list,
  );
  let run = null;

  function tick() {
    if (!run) return;
    const end = isTerminal(run.status) ? run.finished_at || run.updated_at : null;
    const text = run.started_at ? formatDuration(elapsedMs(run.started_at, end)) : run.status === "PENDING" ? "queued" : "—";
    setText(values.elapsed, text);
  }

  function update(next) {
    run = next;
    setText(title, run.name || run.id);
    document.title = `${run.name || run.id} · ${run.status} · agentloop`;
    updateBadge(status, run.status);
    const tree = run.worktree || {};
    const target = tree.merge_target_branch || tree.base_branch;
    setText(values.phase, run.phase || (isTerminal(run.status) ? "finished" : "—"));
    setText(values.iteration, run.iteration || "—");
    setText(values.branch, tree.run_branch ? `${tree.run_branch} → ${target || "?"}` : "not created yet");
    values.branch.title = tree.merge_target_branch
      ? `merges into ${tree.merge_target_branch} (${tree.merge_strategy})`
      : tree.base_branch ? `branched from ${tree.base_branch}; no merge target` : "";
    setText(values.tasks, formatTasks(run));
    progress.max = Math.max(1, run.tasks_total);
    progress.value = run.tasks_done;
    progress.hidden = !run.tasks_total;
    setText(values.tokens, `${formatTokens(run.tokens_in)} / ${formatTokens(run.tokens_out)}`);
    setText(values.cost, formatCost(run.cost_usd));
    setText(values.started, run.started_at ? formatClock(run.started_at) : "—");
    values.started.title = fullTime(run.started_at);
    setText(values.agent, [run.agent, run.model].filter(Boolean).join(" · ") || "—");
    setText(values.workspace, baseName(run.workspace_root));
    values.workspace.title = run.workspace_root;
    const reason = [run.reason, run.resume_at ? `resumes ${formatClock(run.resume_at * 1000)}` : null]
      .filter(Boolean)
      .join(", ");
    setText(values.reason, reason);
    rows.reason.hidden = !reason;
    tick();
  }

  return { node, update, tick };
}
