// The event list: a run's history as loopd recorded it, newest at the bottom.

import { h, setText } from "../dom.js";
import { formatClock, fullTime } from "../format.js";

const MAX_DETAIL = 400;

/** `{phase: "review", exit_code: 0}` -> "phase=review exit_code=0". */
export function summarizePayload(payload) {
  const parts = [];
  for (const [key, value] of Object.entries(payload || {})) {
    if (value === null || value === undefined || value === "") continue;
    parts.push(`${key}=${typeof value === "object" ? JSON.stringify(value) : value}`);
  }
  const text = parts.join("  ");
  return text.length > MAX_DETAIL ? `${text.slice(0, MAX_DETAIL)}…` : text;
}

export function createEvents() {
  const tbody = h("tbody");
  const count = h("span", { class: "hint" }, "0 events");
  const node = h(
    "div",
    { class: "events-pane" },
    h("div", { class: "pane-toolbar" }, count),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "events" },
        h("caption", { class: "visually-hidden" }, "Events, oldest first"),
        h("thead", {}, h("tr", {}, ["#", "Time", "Event", "Details"].map((name) => h("th", { scope: "col" }, name)))),
        tbody,
      ),
    ),
  );
  let total = 0;

  return {
    node,
    add(event) {
      total += 1;
      setText(count, `${total} event${total === 1 ? "" : "s"}`);
      const terminal = /^RUN_(COMPLETED|FAILED|CANCELED)$/.test(event.event_type);
      tbody.append(
        h(
          "tr",
          { dataset: { type: event.event_type }, class: terminal ? "terminal" : null },
          h("td", { class: "num" }, event.seq),
          h("td", {}, h("time", { title: fullTime(event.timestamp) }, formatClock(event.timestamp))),
          h("td", { class: "mono" }, event.event_type),
          h("td", { class: "details" }, summarizePayload(event.payload)),
        ),
      );
    },
  };
}
