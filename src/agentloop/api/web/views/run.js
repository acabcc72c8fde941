// One run, live: header, controls, why it needs attention (when it does), step timeline,
// the plan's tasks, and tabs for output, events, diff (with the review actions) and notes.
// Two SSE streams feed it (events, output), each resumed by seq after a drop; every event
// also triggers a (coalesced) re-read of the run, its steps and its plan, which keeps them
// exact without re-implementing the engine's projections here.

import { listHref } from "./list_address.js";
import { api, ApiError } from "../api.js";
import { announce, h, refresher, replace } from "../dom.js";
import { isTerminal } from "../format.js";
import { EventStream } from "../sse.js";
import { createAttention, NEEDS_ATTENTION } from "./attention.js";
import { createControls } from "./controls.js";
import { createDiff } from "./diff.js";
import { createEvents } from "./events.js";
import { createOutput } from "./output.js";
import { createPlan } from "./plan.js";
import { createReview } from "./review.js";
import { createMetricPlot } from "./metric_plot.js";
import { createNotes } from "./notes.js";
import { createHeader } from "./run_header.js";
import { createTabs } from "./tabs.js";
import { createTimeline } from "./timeline.js";

const SAFETY_POLL_MS = 10_000; // notices a retry from elsewhere, or another host's writes
const PLAN_ON_OUTPUT_MS = 2000; // an agent at work may tick its plan before its step ends

export function mountRun(container, runId, ctx) {
  const controller = new AbortController();
  const { signal } = controller;
  const header = createHeader(runId);
  const controls = createControls(runId, afterAction);
  const timeline = createTimeline();
  const output = createOutput();
  const events = createEvents();
  const notes = createNotes(runId);
  const diff = createDiff(runId, (note) => notes.submit(note));
  const plan = createPlan(runId);
  const review = createReview(runId, async (action) => {
    await afterAction();
    if (action !== "create-pr") diff.load();
  });
  const attention = createAttention(runId, { sendNote: (note) => notes.submit(note), onResumed: afterAction });
  let attentionSignals = []; // of the run's last needs_attention pause
  const error = h("p", { class: "form-error", role: "alert" });
  const plotSlot = h("div", { class: "metric-slot" });
  let plot = null; // an experiment run's metric plot, made once the run says it is one
  let diffLoaded = false;
  let run = null;
  let lastEventSeq = 0; // a resumed stream and a catch-up read may overlap: show each once
  let lastOutputSeq = 0;
  const measurementsSeen = []; // kept until the run is known to be an experiment

  const tabs = createTabs(
    [
      { id: "output", label: "Output", panel: output.node },
      { id: "events", label: "Events", panel: events.node },
      { id: "diff", label: "Diff", panel: h("div", {}, review.node, diff.node) },
      { id: "notes", label: "Notes", panel: notes.node },
    ],
    (id) => {
      if (id === "notes") notes.load();
      if (id === "diff" && !diffLoaded) {
        diffLoaded = true;
        diff.load();
      }
    },
  );

  replace(
    container,
    h(
      "article",
      { class: "run-view", "aria-labelledby": "run-title" },
      h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: listHref(), class: "back" }, "← All runs")),
      error,
      header.node,
      controls.node,
      attention.node,
      plotSlot,
      h(
        "div",
        { class: "run-body" },
        h(
          "div",
          { class: "run-side" },
          h("section", { class: "card steps-card", "aria-labelledby": "steps-title" }, h("h2", { id: "steps-title" }, "Steps"), timeline.node),
          plan.node,
        ),
        h("section", { class: "card detail-card", "aria-label": "Output, events and diff" }, tabs.node),
      ),
    ),
  );
  tabs.select("output");

  function applyRun(next) {
    const before = run?.status;
    run = next;
    if (!plot && run.config?.mode === "experiment") {
      plot = createMetricPlot(run.config.metric || "metric", run.config.metric_goal);
      replace(plotSlot, plot.node);
      for (const event of measurementsSeen) plot.add(event);
    }
    header.update(run);
    controls.update(run);
    review.update(run);
    attention.update(run, attentionSignals);
    if (before && before !== run.status) {
      announce(`Run ${run.status}`);
      if (isTerminal(run.status) && diffLoaded) diff.load();
    }
    if (!isTerminal(run.status)) {
      eventStream.resume();
      outputStream.resume();
    }
  }

  const refreshRun = refresher(async () => applyRun((await api.getRun(runId, signal)).run), 150);
  const refreshSteps = refresher(async () => timeline.update((await api.getSteps(runId, signal)).steps), 150);
  const refreshPlan = refresher(() => plan.load(signal), 300);

  /** A stream ended normally: go on only if the run is not over (it may have been retried). */
  async function runStillGoing() {
    try {
      applyRun((await api.getRun(runId, signal)).run);
      return !isTerminal(run.status);
    } catch {
      return true; // unreachable: keep trying, with backoff
    }
  }

  const eventStream = new EventStream(`runs/${encodeURIComponent(runId)}/events`, {
    shouldReconnect: runStillGoing,
    onMessage: (message) => {
      const event = parse(message.data);
      if (!event || typeof event.seq !== "number" || event.seq <= lastEventSeq) return;
      lastEventSeq = event.seq;
      events.add(event);
      review.event(event);
      if (event.event_type.startsWith("NOTE_")) notes.load();
      else refreshPlan.now(); // now: an output line may have set a slower timer
      if (event.event_type === "RUN_PAUSED" && event.payload?.reason === NEEDS_ATTENTION) {
        attentionSignals = event.payload.signals || [];
        if (run) attention.update(run, attentionSignals);
      }
      if (event.event_type === "MEASUREMENT") {
        measurementsSeen.push(event);
        plot?.add(event);
      }
      refreshRun();
      if (event.event_type.startsWith("STEP_") || /^RUN_/.test(event.event_type)) refreshSteps();
    },
    onState: (state, detail) => {
      if (state === "open") ctx.setConnection("live", "live");
      else if (state === "reconnecting") ctx.setConnection("reconnecting", "reconnecting");
      else if (state === "ended") ctx.setConnection("idle", "run finished");
      else if (state === "suspended") ctx.setConnection("idle", "paused (tab hidden)");
      else if (state === "failed") showError(detail);
    },
  });
  const outputStream = new EventStream(`runs/${encodeURIComponent(runId)}/output`, {
    shouldReconnect: runStillGoing,
    onMessage: (message) => {
      const item = parse(message.data);
      if (!item || typeof item.line !== "string" || item.seq <= lastOutputSeq) return;
      lastOutputSeq = item.seq;
      output.add(item);
      refreshPlan(PLAN_ON_OUTPUT_MS);
    },
  });

  function showError(failure) {
    const text = failure instanceof ApiError && failure.status === 404
      ? "No such run. It may have been deleted, or the link is wrong."
      : `Could not load the run: ${failure?.message || failure}`;
    error.textContent = text;
  }

  async function afterAction() {
    await Promise.all([refreshRun.now(), refreshSteps.now(), refreshPlan.now(), eventStream.catchUp()]);
  }

  const timers = [
    setInterval(() => {
      header.tick();
      timeline.tick();
    }, 1000),
    setInterval(() => {
      if (document.visibilityState !== "visible") return;
      refreshRun();
      refreshSteps();
      refreshPlan();
      eventStream.catchUp(); // no-ops unless the stream has ended
      outputStream.catchUp();
    }, SAFETY_POLL_MS),
  ];

  (async () => {
    try {
      const [{ run: first }, { steps }] = await Promise.all([api.getRun(runId, signal), api.getSteps(runId, signal)]);
      timeline.update(steps);
      applyRun(first);
      refreshPlan.now();
      eventStream.start();
      outputStream.start();
    } catch (failure) {
      if (failure.name !== "AbortError") showError(failure);
    }
  })();

  return {
    destroy() {
      controller.abort();
      eventStream.close();
      outputStream.close();
      refreshRun.stop();
      refreshSteps.stop();
      refreshPlan.stop();
      output.destroy();
      diff.destroy();
      notes.destroy();
      timers.forEach(clearInterval);
      document.title = "agentloop";
    },
  };
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
