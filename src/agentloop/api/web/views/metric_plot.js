// An experiment run's metric per iteration (SPEC 19) as an inline SVG: kept iterations as
// filled dots, reverted ones hollow, the baseline as a square, the best so far as a step
// line; an iteration without a usable measurement is a cross on the bottom edge. Fed by the
// run's MEASUREMENT events as they arrive.

import { h, replace } from "../dom.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 220;
const PAD = { left: 56, right: 16, top: 16, bottom: 32 };

function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function shown(value) {
  if (value === null || value === undefined) return "none";
  return Number((value + 0).toPrecision(6)).toString(); // no "-0"
}

export function createMetricPlot(metric, goal) {
  const points = new Map(); // iteration -> {iteration, value, kept, reason}
  const summary = h("p", { class: "metric-summary" });
  const figure = h("div", { class: "metric-plot" });
  const node = h(
    "section",
    { class: "card metric-card", "aria-labelledby": "metric-title" },
    h("h2", { id: "metric-title" }, `Metric: ${metric}`),
    summary,
    figure,
  );

  function draw() {
    const series = [...points.values()].sort((a, b) => a.iteration - b.iteration);
    const measured = series.filter((p) => typeof p.value === "number");
    const baseline = series.find((p) => p.iteration === 0);
    const kept = series.filter((p) => p.iteration > 0 && p.kept);
    const best = kept.length ? kept[kept.length - 1] : baseline;
    summary.textContent = `${goal === "min" ? "lower" : "higher"} is better · baseline ${shown(baseline?.value)} · best ${shown(best?.value)}` +
      (best && best.iteration > 0 ? ` (iteration ${best.iteration})` : "") +
      ` · ${kept.length} kept, ${series.filter((p) => p.iteration > 0 && !p.kept).length} reverted`;
    if (!series.length) {
      replace(figure, h("p", { class: "empty" }, "No measurement yet."));
      return;
    }
    const lastIteration = Math.max(1, ...series.map((p) => p.iteration));
    let low = Math.min(...measured.map((p) => p.value));
    let high = Math.max(...measured.map((p) => p.value));
    if (!measured.length) [low, high] = [0, 1];
    if (low === high) [low, high] = [low - 1, high + 1];
    const x = (i) => PAD.left + (i / lastIteration) * (WIDTH - PAD.left - PAD.right);
    const y = (v) => PAD.top + (1 - (v - low) / (high - low)) * (HEIGHT - PAD.top - PAD.bottom);
    const bottom = HEIGHT - PAD.bottom;

    // The best so far, as a step line over the iterations.
    let path = "";
    let current = null;
    for (const p of series) {
      if (p.iteration === 0 || p.kept) {
        if (typeof p.value === "number") {
          path += current === null ? `M${x(p.iteration)},${y(p.value)}` : ` H${x(p.iteration)} V${y(p.value)}`;
          current = p.value;
        }
      }
    }
    if (current !== null) path += ` H${x(lastIteration)}`;

    const marks = series.map((p) => {
      const title = s("title", {}, `iteration ${p.iteration}: ${shown(p.value)} — ${p.iteration === 0 ? "baseline" : p.kept ? "kept" : "reverted"}${p.reason ? ` (${p.reason})` : ""}`);
      const data = { "data-iteration": p.iteration, "data-kept": String(Boolean(p.kept)) };
      if (typeof p.value !== "number") {
        const cx = x(p.iteration);
        return s("path", { class: "point unmeasured", d: `M${cx - 4},${bottom - 4} l8,8 m0,-8 l-8,8`, ...data }, title);
      }
      if (p.iteration === 0) {
        return s("rect", { class: "point baseline", x: x(0) - 4, y: y(p.value) - 4, width: 8, height: 8, ...data }, title);
      }
      return s("circle", { class: `point ${p.kept ? "kept" : "reverted"}`, cx: x(p.iteration), cy: y(p.value), r: 5, ...data }, title);
    });
    const ticks = [low, (low + high) / 2, high].map((v) =>
      s("text", { class: "tick", x: PAD.left - 6, y: y(v) + 4, "text-anchor": "end" }, shown(v)),
    );
    const label = `${metric} per iteration: baseline ${shown(baseline?.value)}, best ${shown(best?.value)}, ${kept.length} kept`;
    const svg = s(
      "svg",
      { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": label, class: "metric-svg" },
      s("title", {}, label),
      s("line", { class: "axis", x1: PAD.left, y1: bottom, x2: WIDTH - PAD.right, y2: bottom }),
      s("line", { class: "axis", x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: bottom }),
      ticks,
      s("text", { class: "tick", x: x(lastIteration), y: HEIGHT - 8, "text-anchor": "end" }, `iteration ${lastIteration}`),
      s("text", { class: "tick", x: x(0), y: HEIGHT - 8 }, "0"),
      path ? s("path", { class: "best-line", d: path }) : null,
      marks,
    );
    replace(figure, svg);
  }

  draw();
  return {
    node,
    add(event) {
      const p = event.payload || {};
      if (typeof p.iteration !== "number") return;
      points.set(p.iteration, p);
      draw();
    },
  };
}
