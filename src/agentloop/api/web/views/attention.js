// A run PAUSED for `needs_attention` (SPEC 6, 18): why (the watchdog's signals, from the
// RUN_PAUSED event) and how to go on: a note to the agent and Resume, here or with
// `loopctl say` + `loopctl resume`. Hidden for every other state.

import { api } from "../api.js";
import { announce, h, replace, setText } from "../dom.js";

export const NEEDS_ATTENTION = "needs_attention";

/** The id prefix `loopctl inspect` prints in its own hint. */
const shortId = (id) => id.slice(0, 13);

/** sendNote({text}) resolves true once loopd took the note; onResumed() after the resume. */
export function createAttention(runId, { sendNote, onResumed }) {
  const signals = h("ul", { class: "attention-signals" });
  const text = h("textarea", { id: "attention-note", rows: 3, maxlength: 20000, placeholder: "What should the agent do next?" });
  const go = h("button", { type: "submit", class: "primary" }, "Send note and resume");
  const status = h("p", { class: "hint", role: "status" });
  const commands = h("pre", { class: "attention-commands" });
  const form = h(
    "form",
    { class: "attention-form" },
    h("label", { for: "attention-note" }, "Tell the agent what to do, then resume"),
    text,
    h("div", { class: "note-actions" }, go, status),
  );
  const node = h(
    "section",
    { class: "card attention", role: "region", "aria-labelledby": "attention-title", hidden: true },
    h("h2", { id: "attention-title" }, "Needs attention"),
    h("p", {}, "The watchdog saw no progress and used up its prompt rewrites, so the run is paused. What it saw:"),
    signals,
    form,
    h("p", { class: "hint" }, "Or from a terminal:"),
    commands,
  );
  setText(commands, `loopctl say ${shortId(runId)} "what to do next"\nloopctl resume ${shortId(runId)}`);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!text.value.trim()) {
      setText(status, "Write what the agent should do first (Resume above goes on without a note).");
      return;
    }
    go.disabled = true;
    try {
      if (!(await sendNote({ text: text.value }))) {
        setText(status, "The note was not sent; see the Notes tab.");
        return;
      }
      text.value = "";
      await api.control(runId, "resume");
      setText(status, "Note sent; run resumed.");
      announce("Note sent; run resumed.");
      await onResumed();
    } catch (error) {
      setText(status, `Resume failed: ${error.message}`);
    } finally {
      go.disabled = false;
    }
  });

  return {
    node,
    /** Show the panel while `run` is paused for attention, with `seen` signals [{signal, detail}]. */
    update(run, seen) {
      const needed = run.status === "PAUSED" && run.reason === NEEDS_ATTENTION;
      node.hidden = !needed;
      if (!needed) return;
      replace(
        signals,
        seen.length
          ? seen.map((s) => h("li", { dataset: { signal: s.signal } }, h("code", {}, s.signal), `: ${s.detail ?? ""}`))
          : h("li", { class: "hint" }, "Reading the signals from the run's events…"),
      );
    },
  };
}
