// The run branch against its base: commits, then each changed file's patch.

import { api, ApiError } from "../api.js";
import { h, replace } from "../dom.js";
import { formatClock, fullTime, shortSha } from "../format.js";

const HUNK = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@/;

/** The patch's lines; a line of the new file (context or added) can take a comment. */
function patchLines(patch, path, comment) {
  let next = 0; // the new file's line number of the next context or added line
  return patch.replace(/\n$/, "").split("\n").map((line) => {
    let kind = "ctx";
    if (line.startsWith("+++") || line.startsWith("---") || line.startsWith("diff ") || line.startsWith("index ")) kind = "meta";
    else if (line.startsWith("@@")) kind = "hunk";
    else if (line.startsWith("+")) kind = "add";
    else if (line.startsWith("-")) kind = "del";
    if (kind === "hunk") next = Number(HUNK.exec(line)?.[1] || 0);
    const number = (kind === "ctx" || kind === "add") && next ? next++ : null;
    const span = h("span", { class: `patch-${kind}`, dataset: number ? { line: number } : {} }, `${line}\n`);
    if (number && comment) {
      span.classList.add("commentable");
      span.prepend(
        h("button", {
          type: "button",
          class: "line-comment",
          "aria-label": `Comment on ${path} line ${number}`,
          title: "Comment on this line (a note to the agent)",
          onclick: () => comment(span, path, number),
        }), // its "+" comes from CSS, so the line's text stays the patch's own
      );
    }
    return span;
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
          commit.timestamp_s ? " · " : "",
          commit.timestamp_s ? h("time", { title: fullTime(commit.timestamp_s * 1000) }, formatClock(commit.timestamp_s * 1000)) : null,
        ),
      ),
    ),
  );
}

function fileEntry(file, comment) {
  const counts = file.binary ? "binary" : `+${file.additions} −${file.deletions}`;
  const renamed = file.old_path && file.old_path !== file.path ? `${file.old_path} → ` : "";
  return h(
    "details",
    { class: "file", dataset: { path: file.path } },
    h(
      "summary",
      {},
      h("span", { class: "file-status", title: file.status }, file.status_letter || file.status),
      h("span", { class: "mono file-path" }, renamed, file.path),
      h("span", { class: "file-counts" }, counts),
    ),
    file.binary
      ? h("p", { class: "hint" }, "Binary file.")
      : h("pre", { class: "patch" }, patchLines(file.patch || "", file.path, comment)),
    file.truncated ? h("p", { class: "hint" }, "Patch truncated; see `loopctl diff` for all of it.") : null,
  );
}

/** An inline form under a diff line whose text goes to ``sendNote({text, file, line})``. */
function commentForm(sendNote) {
  return (lineNode, path, number) => {
    if (lineNode.nextSibling?.classList?.contains("line-comment-form")) return;
    const text = h("textarea", { rows: 2, "aria-label": `Comment on ${path} line ${number}` });
    const form = h(
      "form",
      { class: "line-comment-form" },
      text,
      h("button", { type: "submit" }, "Comment"),
      h("button", { type: "button", class: "ghost", onclick: () => form.remove() }, "Cancel"),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (text.value.trim() && (await sendNote({ text: text.value, file: path, line: number }))) {
        form.replaceWith(h("span", { class: "line-comment-sent" }, `Note sent about ${path}:${number}\n`));
      }
    });
    lineNode.after(form);
    text.focus();
  };
}

export function createDiff(runId, sendNote = null) {
  const comment = sendNote ? commentForm(sendNote) : null;
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
        files.length
          ? h("div", { class: "files" }, files.map((file) => fileEntry(file, comment)))
          : h("p", { class: "empty" }, "No changed files."),
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
