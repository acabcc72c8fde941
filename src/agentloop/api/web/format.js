// Plain-text formatting of run data: durations, money, tokens, times, statuses.

export const TERMINAL = new Set(["COMPLETED", "FAILED", "CANCELED"]);
export const isTerminal = (status) => TERMINAL.has(status);

/** Which control actions a run's status allows (SPEC 2). */
export function allowedActions(status) {
  return {
    pause: status === "PENDING" || status === "RUNNING",
    resume: status === "PAUSED",
    cancel: Boolean(status) && !isTerminal(status),
    retry: status === "FAILED" || status === "CANCELED",
  };
}

/** Runs that failed only at their merge: the work is done, so they can still be merged. */
const MERGEABLE_FAILURES = new Set(["merge_conflict", "merge_verification_failed"]);

/** Which review actions a run allows (SPEC 8): merge a completed run (or one whose merge
 * failed), scrap or open a pull request for any ended run; none once its branch is deleted
 * (a scrap: a merged run's review_status stays "merged", so the caller says `branchGone`). */
export function allowedReviews(run, branchGone = false) {
  const ended = isTerminal(run?.status);
  const open = ended && run.review_status !== "scrapped" && !branchGone;
  const mergeable = run?.status === "COMPLETED" || (run?.status === "FAILED" && MERGEABLE_FAILURES.has(run.reason));
  return {
    merge: open && mergeable && !run.merge_commit,
    scrap: open,
    "create-pr": open && !run.pr_url,
  };
}

export function parseTime(value) {
  if (!value) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

/** 950 -> "950 ms", 61_000 -> "1m 01s", 3_723_000 -> "1h 02m". */
export function formatDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "—";
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const total = Math.floor(ms / 1000);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const pad = (n) => String(n).padStart(2, "0");
  if (hours) return `${hours}h ${pad(minutes)}m`;
  if (minutes) return `${minutes}m ${pad(seconds)}s`;
  return `${seconds}s`;
}

/** Elapsed time of a run or step: start to finish, or to now while it is going. */
export function elapsedMs(startedAt, finishedAt, now = Date.now()) {
  const start = parseTime(startedAt);
  if (start === null) return null;
  const end = parseTime(finishedAt) ?? now;
  return Math.max(0, end - start);
}

export function formatCost(usd) {
  const value = Number(usd) || 0;
  if (value === 0) return "$0";
  if (value < 0.01) return `$${value.toFixed(4)}`;
  return `$${value.toFixed(2)}`;
}

export function formatTokens(count) {
  const value = Number(count) || 0;
  if (value >= 1_000_000) return `${(value / 1_000_000).toFixed(1)}M`;
  if (value >= 10_000) return `${Math.round(value / 1000)}k`;
  if (value >= 1000) return `${(value / 1000).toFixed(1)}k`;
  return String(value);
}

/** "14:03:07" today, "Nov 24, 14:03" otherwise; full date-time in the title. */
export function formatClock(value) {
  const ms = typeof value === "number" ? value : parseTime(value);
  if (ms === null) return "—";
  const date = new Date(ms);
  const today = new Date().toDateString() === date.toDateString();
  return today
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })
    : date.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

export function fullTime(value) {
  const ms = typeof value === "number" ? value : parseTime(value);
  return ms === null ? "" : new Date(ms).toLocaleString();
}

export function formatTasks(run) {
  return run.tasks_total ? `${run.tasks_done}/${run.tasks_total}` : "—";
}

/** The last path component, for a compact workspace column; the full path goes in a title. */
export function baseName(path) {
  if (!path) return "—";
  const parts = path.replace(/[\\/]+$/, "").split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

export function shortSha(sha) {
  return sha ? sha.slice(0, 8) : "";
}

/** "implementation", iteration 2, attempt 1 -> "implementation · iter 2". */
export function stepLabel(phase, iteration, attempt = 1) {
  const parts = [phase || "step"];
  if (iteration) parts.push(`iter ${iteration}`);
  if (attempt > 1) parts.push(`attempt ${attempt}`);
  return parts.join(" · ");
}
