// The step timeline: phase, iteration, status (in progress shown as such), duration and
// exit code (0 included) of every step, the running one's duration ticking.

import { badge, h, replace, setText } from "../dom.js";
import { elapsedMs, formatDuration, stepLabel } from "../format.js";

export function createTimeline() {
  const list = h("ol", { class: "timeline", "aria-label": "Steps" });
  const empty = h("p", { class: "empty" }, "No steps yet.");
  const node = h("div", { class: "timeline-wrap" }, empty, list);
  let live = []; // [{step, duration}] of steps still in progress

  function item(step) {
    const duration = h("span", { class: "step-duration" });
    const running = step.status === "IN_PROGRESS";
    setText(duration, running ? formatDuration(elapsedMs(step.started_at, null)) : formatDuration(step.duration_ms));
    if (running) live.push({ step, duration });
    const hasExit = step.exit_code !== null && step.exit_code !== undefined;
    return h(
      "li",
      { class: "step", dataset: { status: step.status, stepId: step.id, phase: step.phase } },
      h(
        "div",
        { class: "step-line" },
        badge(step.status),
        h("span", { class: "step-name" }, stepLabel(step.phase, step.iteration, step.attempt)),
      ),
      h(
        "div",
        { class: "step-meta" },
        duration,
        hasExit
          ? h("span", { class: `step-exit${step.exit_code === 0 ? "" : " bad"}` }, `exit ${step.exit_code}`)
          : null,
      ),
      step.message ? h("p", { class: "step-message", title: step.message }, step.message) : null,
    );
  }

  return {
    node,
    update(steps) {
      // Keep the newest step in view unless the reader scrolled back through older ones.
      const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 24;
      live = [];
      empty.hidden = steps.length > 0;
      replace(list, steps.map(item));
      if (atEnd) list.scrollTop = list.scrollHeight;
    },
    tick() {
      for (const { step, duration } of live) setText(duration, formatDuration(elapsedMs(step.started_at, null)));
    },
  };
}
