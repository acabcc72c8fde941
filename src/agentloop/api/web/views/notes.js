// Notes to the agent (SPEC 18): a box to write one, and every note of the run with where it
// stands (waiting for the next agent step, or delivered to one). Diff-line comments go
// through the same `send`.

import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { formatClock, fullTime } from "../format.js";

export function createNotes(runId) {
  const list = h("ol", { class: "notes", "aria-label": "Notes" });
  const empty = h("p", { class: "empty" }, "No notes yet.");
  const text = h("textarea", { id: "note-text", rows: 3, maxlength: 20000, placeholder: "Tell the agent something: it reads it at its next step." });
  const status = h("p", { class: "hint", role: "status" });
  const send = h("button", { type: "submit" }, "Send note");
  const form = h(
    "form",
    { class: "note-form" },
    h("label", { for: "note-text" }, "Note to the agent"),
    text,
    h("div", { class: "note-actions" }, send, status),
  );
  const node = h("div", { class: "notes-pane" }, form, empty, list);
  let controller = null;

  function item(note) {
    const where = note.file ? `${note.file}${note.line ? `:${note.line}` : ""}` : null;
    return h(
      "li",
      { class: "note", dataset: { noteId: note.id, delivered: String(Boolean(note.delivered_step_id)) } },
      h("p", { class: "note-text" }, note.text),
      h(
        "p",
        { class: "hint" },
        where ? h("code", {}, where) : null,
        where ? " · " : "",
        h("time", { title: fullTime(note.created_at) }, formatClock(note.created_at)),
        ` · ${note.source} · `,
        note.delivered_step_id ? "delivered" : "waiting for the next agent step",
      ),
    );
  }

  async function load() {
    controller?.abort();
    controller = new AbortController();
    try {
      const { notes } = await api.getNotes(runId, controller.signal);
      empty.hidden = notes.length > 0;
      replace(list, notes.map(item));
    } catch (error) {
      if (error.name !== "AbortError") status.textContent = `Could not load the notes: ${error.message}`;
    }
  }

  /** Send a note ({text, file?, line?}); resolves true when loopd took it. */
  async function submit(note) {
    try {
      await api.addNote(runId, note);
      status.textContent = "Sent: the agent reads it at its next step.";
      await load();
      return true;
    } catch (error) {
      status.textContent = `Not sent: ${error.message}`;
      return false;
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!text.value.trim()) {
      status.textContent = "Write something first.";
      return;
    }
    send.disabled = true;
    if (await submit({ text: text.value })) text.value = "";
    send.disabled = false;
  });

  return { node, load, submit, destroy: () => controller?.abort() };
}
