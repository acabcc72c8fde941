// Review of a finished run on the diff view (SPEC 8): merge it, scrap it, or open a pull
// request; each button enabled only when the run's state allows it (format.allowedReviews),
// loopd's answer (or its refusal, with why) shown beside them.

import { api, ApiError } from "../api.js";
import { announce, h, replace, setText } from "../dom.js";
import { allowedReviews, shortSha } from "../format.js";

const ACTIONS = [
  ["merge", "Merge", "Merge the run branch into the target branch (never pushes)"],
  ["scrap", "Scrap", "Delete the run's branch and worktree"],
  ["create-pr", "Create PR", "Open a pull request for the run branch with gh (push it first)"],
];
const STRATEGIES = [["", "run's strategy"], ["squash", "squash"], ["merge", "merge commit"]];

/** onDone(action) after loopd carried out an action (refresh the run and the diff). */
export function createReview(runId, onDone) {
  const target = h("input", { id: "merge-target", type: "text", size: 18, autocomplete: "off" });
  const strategy = h("select", { id: "merge-strategy" }, STRATEGIES.map(([value, label]) => h("option", { value }, label)));
  const outcome = h("p", { class: "review-outcome", role: "status" });
  const error = h("p", { class: "form-error", role: "alert" });
  const state = h("p", { class: "hint review-state" });
  const buttons = {};
  let run = null;
  let busy = false;
  let branchGone = false; // a scrap deleted it (WORKTREE_REMOVED with branch_deleted)

  for (const [action, label, help] of ACTIONS) {
    buttons[action] = h(
      "button",
      { type: "button", class: action === "scrap" ? "danger" : "", title: help, dataset: { review: action }, onclick: () => act(action) },
      label,
    );
  }

  function body(action) {
    if (action !== "merge") return {};
    const wanted = {};
    if (target.value.trim()) wanted.target = target.value.trim();
    if (strategy.value) wanted.strategy = strategy.value;
    return wanted;
  }

  function said(action, answer) {
    if (action === "merge") {
      const into = answer.run.worktree?.merge_target_branch || "the target";
      return [`Merged into ${into} as ${shortSha(answer.commit)}.`];
    }
    if (action === "scrap") return ["Scrapped: the run's branch and worktree are deleted."];
    return ["Pull request: ", h("a", { href: answer.url, target: "_blank", rel: "noopener noreferrer" }, answer.url)];
  }

  async function act(action) {
    if (action === "scrap" && !window.confirm("Scrap this run? Its branch and worktree are deleted.")) return;
    busy = true;
    render();
    setText(error, "");
    setText(outcome, "");
    try {
      const answer = await api.review(runId, action, body(action));
      if (action === "scrap") branchGone = true;
      replace(outcome, said(action, answer));
      announce(outcome.textContent);
      await onDone(action);
    } catch (failure) {
      const reason = failure instanceof ApiError && failure.body?.reason ? ` (${failure.body.reason})` : "";
      setText(error, `${action} refused${reason}: ${failure.message}`);
    } finally {
      busy = false;
      render();
    }
  }

  function render() {
    const allowed = allowedReviews(run, branchGone);
    for (const [action] of ACTIONS) buttons[action].disabled = busy || !allowed[action];
    target.disabled = strategy.disabled = busy || !allowed.merge;
    if (!run) return;
    const tree = run.worktree || {};
    target.placeholder = tree.merge_target_branch || "agent/<spec>";
    const notes = [];
    const scrapped = run.review_status === "scrapped" || branchGone;
    if (!allowed.scrap && !scrapped) notes.push("Review opens once the run has ended.");
    if (run.merge_commit) notes.push(`Merged (${shortSha(run.merge_commit)}) into ${tree.merge_target_branch || "its target"}.`);
    if (scrapped) notes.push("Scrapped: the branch is gone.");
    if (run.pr_url) notes.push(`Pull request: ${run.pr_url}`);
    setText(state, notes.join(" "));
  }
  render();

  return {
    node: h(
      "div",
      { class: "review-bar", role: "group", "aria-label": "Review" },
      h("div", { class: "review-actions" },
        h("label", { for: "merge-target" }, "Merge into"), target,
        h("label", { for: "merge-strategy", class: "visually-hidden" }, "Merge strategy"), strategy,
        Object.values(buttons)),
      state,
      outcome,
      error,
    ),
    update(next) {
      run = next;
      render();
    },
    /** Follow the run's branch through its events: a scrap deletes it, a reset makes a new one. */
    event(event) {
      if (event.event_type === "WORKTREE_REMOVED" && event.payload?.branch_deleted) branchGone = true;
      else if (event.event_type === "WORKTREE_CREATED") branchGone = false;
      else return;
      render();
    },
  };
}
