// The run branch against its base: commits, then each changed file's patch.

import { api, ApiError } from "../api.js";
import { h, replace } from "../dom.js";
import { formatClock, fullTime, shortSha } from "../format.js";

function patchLines(patch) {
  return patch.replace(/\n$/, "").split("\n").map((line) => {
    let kind = "ctx";
    if (line.startsWith("+++") || line.startsWith("---") || line.startsWith("diff ") || line.startsWith("index ")) kind = "meta";
    else if (line.startsWith("@@")) kind = "hunk";
    else if (line.startsWith("+")) kind = "add";
    else if (line.startsWith("-")) kind = "del";
    return h("span", { class: `patch-${kind}` }, `${line}\n`);
  });
}

function commitList(commits) {
  if (!commits.length) return h("p", { class: "empty" }, "No commits on the run branch yet.");
  return h(
    "ol",
    { class: "commits", "aria-label": "Commits" },
    commits.map((commit) =>
      h(
        "li",
        { class: "commit", dataset: { sha: commit.sha } },
        h("code", { class: "sha", title: commit.sha }, shortSha(commit.sha)),
        h("span", { class: "subject" }, commit.subject),
        h(
          "span",
          { class: "hint" },
          commit.author || "",
          commit.timestamp ? " · " : "",
          commit.timestamp ? h("time", { title: fullTime(commit.timestamp * 1000) }, formatClock(commit.timestamp * 1000)) : null,
        ),
      ),
    ),
  );
}

function fileEntry(file) {
  const counts = file.binary ? "binary" : `+${file.additions} −${file.deletions}`;
  const renamed = file.old_path && file.old_path !== file.path ? `${file.old_path} → ` : "";
  return h(
    "details",
    { class: "file", dataset: { path: file.path } },
    h(
      "summary",
      {},
      h("span", { class: "file-status", title: `status ${file.status}` }, file.status),
      h("span", { class: "mono file-path" }, renamed, file.path),
      h("span", { class: "file-counts" }, counts),
    ),
    file.binary
      ? h("p", { class: "hint" }, "Binary file.")
      : h("pre", { class: "patch" }, patchLines(file.patch || "")),
    file.truncated ? h("p", { class: "hint" }, "Patch truncated; see `loopctl diff` for all of it.") : null,
  );
}

export function createDiff(runId) {
  const body = h("div", { class: "diff-body" }, h("p", { class: "hint" }, "Not loaded yet."));
  const reload = h("button", { type: "button", class: "ghost" }, "Reload diff");
  const node = h("div", { class: "diff-pane" }, h("div", { class: "pane-toolbar" }, reload), body);
  let controller = null;

  async function load() {
    controller?.abort();
    controller = new AbortController();
    body.setAttribute("aria-busy", "true");
    try {
      const diff = await api.getDiff(runId, controller.signal);
      const files = diff.files || [];
      replace(
        body,
        h("p", { class: "diff-summary" },
          h("span", { class: "mono" }, diff.branch), " vs ", h("span", { class: "mono" }, diff.base),
          ` · ${diff.commits.length} commit${diff.commits.length === 1 ? "" : "s"}`,
          ` · ${files.length} file${files.length === 1 ? "" : "s"}`,
          ` · +${diff.additions ?? 0} −${diff.deletions ?? 0}`),
        h("h3", {}, "Commits"),
        commitList(diff.commits),
        h("h3", {}, "Files"),
        files.length ? h("div", { class: "files" }, files.map(fileEntry)) : h("p", { class: "empty" }, "No changed files."),
      );
    } catch (error) {
      if (error.name === "AbortError") return;
      const text = error instanceof ApiError && error.status === 409
        ? "No diff yet: the run has no branch so far."
        : `Could not load the diff: ${error.message}`;
      replace(body, h("p", { class: "empty" }, text));
    } finally {
      body.removeAttribute("aria-busy");
    }
  }
  reload.addEventListener("click", load);

  return { node, load, destroy: () => controller?.abort() };
}
