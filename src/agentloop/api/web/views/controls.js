// Pause / resume / cancel / retry: each button enabled only when the run's status allows it.

import { api, ApiError } from "../api.js";
import { announce, h, setText } from "../dom.js";
import { allowedActions } from "../format.js";

const ACTIONS = [
  ["pause", "Pause", "Stop the agent now; resume continues from the last completed step"],
  ["resume", "Resume", "Continue from the last completed step"],
  ["cancel", "Cancel", "Stop the run for good"],
  ["retry", "Retry", "Run again from the last completed step"],
];
const DONE = { pause: "Paused", resume: "Resumed", cancel: "Canceled", retry: "Retrying" };

/** onDone(action) after loopd accepted an action (refresh the run, resume its streams). */
export function createControls(runId, onDone) {
  const message = h("p", { class: "control-message", role: "status" });
  const buttons = {};
  let status = null;
  let busy = false;

  async function act(action) {
    if (action === "cancel" && !window.confirm("Cancel this run? This cannot be undone; retry starts it again.")) return;
    busy = true;
    render();
    setText(message, "");
    try {
      await api.control(runId, action);
      setText(message, `${DONE[action]}.`);
      announce(`${DONE[action]}.`);
      await onDone(action);
    } catch (error) {
      const text = error instanceof ApiError && error.status === 409
        ? `Cannot ${action}: the run is ${error.body?.status || "in another state"}.`
        : `${action} failed: ${error.message}`;
      setText(message, text);
    } finally {
      busy = false;
      render();
    }
  }

  for (const [action, label, help] of ACTIONS) {
    buttons[action] = h(
      "button",
      { type: "button", class: action === "cancel" ? "danger" : "", title: help, dataset: { action }, onclick: () => act(action) },
      label,
    );
  }

  function render() {
    const allowed = allowedActions(status);
    for (const [action] of ACTIONS) buttons[action].disabled = busy || !allowed[action];
  }
  render();

  return {
    node: h("div", { class: "controls", role: "group", "aria-label": "Run controls" }, Object.values(buttons), message),
    update(run) {
      status = run.status;
      render();
    },
  };
}
