// DOM building without innerHTML: every string becomes a text node, so agent output and
// run names (untrusted) can never become markup.

/**
 * h("a", {href: "#/", class: "x", onclick: fn, dataset: {id: 1}}, "text", child, [more])
 * Attributes: `class`, `text`, `dataset`, `on<event>` handlers, booleans (set when true),
 * anything else via setAttribute. Children: nodes, strings, numbers, arrays; null skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replace all children of `node` with `children`. */
export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

/** Set text only when it changed (keeps selections and avoids needless layout). */
export function setText(node, text) {
  const value = String(text);
  if (node.textContent !== value) node.textContent = value;
}

const STATUS_GLYPH = {
  PENDING: "◌", RUNNING: "●", PAUSED: "❚❚", COMPLETED: "✓", FAILED: "✕", CANCELED: "⊘",
  QUEUED: "◌", IN_PROGRESS: "●", SUCCEEDED: "✓", RETRYING: "↻",
};

/** A status badge: glyph + word, never colour alone. */
export function badge(status) {
  const node = h("span", { class: "badge" });
  updateBadge(node, status);
  return node;
}

export function updateBadge(node, status) {
  const value = status || "UNKNOWN";
  if (node.dataset.status === value) return;
  node.dataset.status = value;
  replace(
    node,
    h("span", { class: "glyph", "aria-hidden": "true" }, STATUS_GLYPH[value] || "?"),
    h("span", { class: "word" }, value),
  );
}

/** Tell screen readers something happened (polite). */
export function announce(message) {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  // A separate task, so a repeated message is announced again.
  setTimeout(() => {
    region.textContent = message;
  }, 50);
}

/**
 * Coalesce refreshes: `schedule()` runs `task` after `delayMs`, never two at once; a
 * request during a run queues exactly one more run.
 */
export function refresher(task, delayMs = 250) {
  let timer = null;
  let running = false;
  let again = false;
  let stopped = false;
  const run = async () => {
    timer = null;
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await task();
    } catch (error) {
      if (error?.name !== "AbortError") console.warn("refresh failed", error);
    } finally {
      running = false;
      if (again && !stopped) {
        again = false;
        schedule();
      }
    }
  };
  const schedule = (delay = delayMs) => {
    if (stopped) return;
    if (timer === null) timer = setTimeout(run, delay);
  };
  schedule.now = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    return run();
  };
  schedule.stop = () => {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
  };
  return schedule;
}
