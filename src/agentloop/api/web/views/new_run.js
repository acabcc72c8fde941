// "New run" (SPEC 18): a workspace (one the runs know, or typed), a spec from its
// `<specs_dir>` (GET /workspaces/specs), the run flags of `loopctl run`; POST /runs, then on
// to the new run's page. Left empty, a flag is the workspace's own config (.loop/config).

import { api } from "../api.js";
import { h, refresher, replace, setText } from "../dom.js";
import { listHref } from "./list_address.js";

const DEFAULT = [["", "default"]];
const AGENTS = ["claude", "codex", "gemini", "opencode", "command", "scripted"];
/** [key, label, kind, choices-or-attributes]: the flags shown at once ... */
const MAIN_FLAGS = [
  ["agent", "Agent", "select", AGENTS],
  ["model", "Model", "text", { placeholder: "default" }],
  ["iterations", "Max iterations", "number", { min: 1, placeholder: "default" }],
  ["reviewer", "Reviewer", "select", [["true", "on"], ["false", "off"]]],
  ["merge_target_branch", "Merge into branch", "text", { placeholder: "none: review it first" }],
  ["merge_strategy", "Merge strategy", "select", ["squash", "merge", "none"]],
];
/** ... and the rest, under "More options". */
const MORE_FLAGS = [
  ["base_branch", "Base branch", "text", { placeholder: "the repository's default" }],
  ["run_branch_prefix", "Run branch prefix", "text", { placeholder: "run/" }],
  ["worktree_provider", "Worktree provider", "select", ["auto", "git", "worktrunk"]],
  ["worktree_path_template", "Worktree path template", "text", { placeholder: "../{{ repo }}.{{ run_branch | sanitize }}" }],
  ["mode", "Mode", "select", ["plan", "experiment"]],
  ["measure_cmd", "Measure command (experiment)", "text", {}],
  ["metric", "Metric (experiment)", "text", {}],
  ["metric_goal", "Metric goal (experiment)", "select", ["max", "min"]],
  ["metric_target", "Metric target (experiment)", "number", { step: "any" }],
  ["max_concurrency", "Max concurrency (sets loopd's cap)", "number", { min: 1 }],
  ["max_runs_per_workspace", "Max runs per workspace (sets loopd's cap)", "number", { min: 1 }],
  ["queue_policy", "Queue policy (sets loopd's cap)", "select", ["fifo", "newest_first"]],
];

function control(key, kind, extra) {
  const id = `new-${key}`;
  if (kind === "select") {
    const choices = extra.map((c) => (Array.isArray(c) ? c : [c, c]));
    return h("select", { id, name: key }, [...DEFAULT, ...choices].map(([value, label]) => h("option", { value }, label)));
  }
  return h("input", { id, name: key, type: kind, autocomplete: "off", ...extra });
}

function field(label, input, hint = null) {
  return h("div", { class: "field" }, h("label", { for: input.id }, label), input, hint);
}

export function mountNewRun(container, params) {
  const controller = new AbortController();
  const flags = {};
  const flagFields = (list) =>
    list.map(([key, label, kind, extra]) => {
      flags[key] = { input: control(key, kind, extra), kind };
      return field(label, flags[key].input);
    });
  const workspace = h("input", { id: "new-workspace", name: "workspace_root", type: "text", list: "known-workspaces", required: true, autocomplete: "off", placeholder: "/absolute/path/to/repository", size: 48 });
  const known = h("datalist", { id: "known-workspaces" });
  const workspaceNote = h("p", { class: "hint", role: "status" });
  const spec = h("select", { id: "new-spec", name: "spec_path", required: true }, h("option", { value: "" }, "pick a workspace first"));
  const specNote = h("p", { class: "hint" });
  const plan = h("input", { id: "new-plan", name: "plan_path", type: "text", autocomplete: "off", placeholder: "<plans_dir>/<spec>-plan.md" });
  const name = h("input", { id: "new-name", name: "name", type: "text", maxlength: 64, autocomplete: "off", placeholder: "asked of the agent, else the spec's name" });
  const error = h("p", { class: "form-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary" }, "Start run");
  let specs = []; // the workspace's specs as loopd listed them

  const form = h(
    "form",
    { class: "card new-run-form", novalidate: true },
    field("Workspace", workspace, workspaceNote),
    known,
    field("Spec", spec, specNote),
    field("Plan", plan),
    field("Name", name),
    h("div", { class: "field-grid" }, flagFields(MAIN_FLAGS)),
    h("details", { class: "more-flags" }, h("summary", {}, "More options"), h("div", { class: "field-grid" }, flagFields(MORE_FLAGS))),
    error,
    h("div", { class: "form-actions" }, submit, h("a", { href: listHref() }, "Back to runs")),
  );
  replace(
    container,
    h("section", { class: "new-run-view", "aria-labelledby": "new-run-title" }, h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: listHref(), class: "back" }, "← All runs")), h("h1", { id: "new-run-title" }, "New run"), form),
  );

  const loadSpecs = refresher(async () => {
    const root = workspace.value.trim();
    specs = [];
    replace(spec, h("option", { value: "" }, root ? "loading…" : "pick a workspace first"));
    setText(workspaceNote, "");
    if (!root) return showSpec();
    try {
      const listed = await api.listSpecs(root, controller.signal);
      if (workspace.value.trim() !== root) return; // typed on meanwhile: its own load follows
      specs = listed.specs;
      setText(workspaceNote, `${listed.workspace_root} · specs in ${listed.specs_dir}/`);
      replace(spec, specs.length ? specs.map((s) => h("option", { value: s.path }, `${s.path} — ${s.title}`)) : h("option", { value: "" }, `no specs in ${listed.specs_dir}/`));
    } catch (failure) {
      if (failure.name === "AbortError") return;
      replace(spec, h("option", { value: "" }, "no specs"));
      setText(workspaceNote, failure.message);
    }
    showSpec();
  }, 300);

  function showSpec() {
    const chosen = specs.find((s) => s.path === spec.value);
    plan.value = chosen ? chosen.plan_path : "";
    const facts = chosen ? [chosen.status && `status ${chosen.status}`, chosen.last_updated && `updated ${chosen.last_updated}`] : [];
    if (chosen && !chosen.plan_exists) facts.push(`no plan at ${chosen.plan_path} yet: write one, or name another`);
    setText(specNote, facts.filter(Boolean).join(" · "));
  }

  function requestBody() {
    const body = { workspace_root: workspace.value.trim(), spec_path: spec.value };
    if (plan.value.trim()) body.plan_path = plan.value.trim();
    if (name.value.trim()) body.name = name.value.trim();
    const overrides = {};
    for (const [key, { input, kind }] of Object.entries(flags)) {
      const value = input.value.trim();
      if (value !== "") overrides[key] = kind === "number" ? Number(value) : value;
    }
    if (Object.keys(overrides).length) body.config_override = overrides;
    return body;
  }

  workspace.addEventListener("input", () => loadSpecs());
  spec.addEventListener("change", showSpec);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setText(error, "");
    if (!workspace.value.trim() || !spec.value) {
      setText(error, "Pick a workspace and one of its specs.");
      return;
    }
    submit.disabled = true;
    try {
      const { run } = await api.createRun(requestBody());
      location.hash = `#/runs/${encodeURIComponent(run.id)}`;
    } catch (failure) {
      setText(error, `Not started: ${failure.message}`);
      submit.disabled = false;
    }
  });

  (async () => {
    try {
      const { runs } = await api.listRuns({ limit: 1000 }, controller.signal);
      const roots = [...new Set(runs.map((r) => r.workspace_root))].sort();
      replace(known, roots.map((root) => h("option", { value: root })));
      workspace.value = params.get("workspace") || workspace.value || runs[0]?.workspace_root || "";
      if (workspace.value) loadSpecs.now();
    } catch (failure) {
      if (failure.name !== "AbortError") setText(workspaceNote, `Could not list the known workspaces: ${failure.message}`);
    }
    form.dataset.ready = "true"; // the known workspaces are in (tests wait for it)
  })();
  workspace.focus();

  return {
    destroy() {
      controller.abort();
      loadSpecs.stop();
    },
  };
}
