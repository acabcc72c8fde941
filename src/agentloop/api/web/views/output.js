// Live agent output: lines grouped under phase/iteration headers, auto-scrolling while the
// reader is at the bottom; scrolling up pauses it until "Jump to latest".

import { h, setText } from "../dom.js";
import { stepLabel } from "../format.js";

const MAX_LINES = 20_000; // older lines leave the page (the full log stays on disk)
const BOTTOM_SLACK_PX = 24;

export function createOutput() {
  const log = h("div", {
    class: "output",
    id: "output-log",
    tabindex: "0",
    role: "log",
    "aria-live": "off", // a stream of lines would drown a screen reader
    "aria-label": "Agent output",
  });
  const placeholder = h("p", { class: "output-empty" }, "No output yet.");
  log.append(placeholder);
  const lineCount = h("span", { class: "hint" });
  const followState = h("span", { class: "follow-state", "aria-live": "polite" });
  const jump = h("button", { type: "button", class: "jump", hidden: true }, "↓ Jump to latest");
  const node = h(
    "div",
    { class: "output-pane" },
    h("div", { class: "pane-toolbar" }, lineCount, followState, jump),
    log,
  );

  let follow = true;
  let lastKey = null;
  let lines = 0;
  let pending = [];
  let frame = null;

  const atBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight <= BOTTOM_SLACK_PX;
  const scrollToEnd = () => {
    log.scrollTop = log.scrollHeight;
  };
  function setFollow(value) {
    follow = value;
    jump.hidden = follow;
    setText(followState, follow ? "" : "Auto-scroll paused");
    node.dataset.follow = follow ? "on" : "off";
  }
  setFollow(true);

  log.addEventListener("scroll", () => {
    if (atBottom() !== follow) setFollow(atBottom());
  });
  jump.addEventListener("click", () => {
    setFollow(true);
    scrollToEnd();
    log.focus();
  });

  function flush() {
    frame = null;
    if (!pending.length) return;
    placeholder.remove();
    const fragment = document.createDocumentFragment();
    for (const item of pending) {
      const key = item.step_id || `${item.phase}:${item.iteration}`;
      if (key !== lastKey) {
        lastKey = key;
        fragment.append(h("div", { class: "output-head", role: "heading", "aria-level": "3" }, stepLabel(item.phase, item.iteration)));
      }
      fragment.append(h("div", { class: "line" }, item.line));
    }
    lines += pending.length;
    pending = [];
    log.append(fragment);
    while (log.childElementCount > MAX_LINES) log.firstElementChild.remove();
    setText(lineCount, `${lines} line${lines === 1 ? "" : "s"}`);
    if (follow) scrollToEnd();
  }

  return {
    node,
    /** Queue one output item ({step_id, phase, iteration, line}); drawn on the next frame. */
    add(item) {
      pending.push(item);
      if (frame === null) frame = requestAnimationFrame(flush);
    },
    destroy() {
      if (frame !== null) cancelAnimationFrame(frame);
    },
  };
}
