// runhive dashboard: the run page's console output (the run file output.log, its last 64 KiB first, earlier pages
// on demand), its files (downloads through the file route), the artifacts it logged and used with their lineage,
// and its git diff. Loaded before app.js, whose helpers (el, enc, fmt, getJSON, runHref, when) it calls.
"use strict";

function bytes(n) {
  if (typeof n !== "number") return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

async function drawConsole(container, run) {
  const pre = el("pre", { id: "console" });
  const earlier = el("button", { type: "button", id: "console-earlier" }, "show earlier output");
  const info = el("span", { class: "muted", id: "console-info" });
  const base = `/api/run/console?path=${enc(runPathOf(run))}`;
  try {
    const got = await getJSON(base);
    if (!got.present || !got.size) {
      container.replaceChildren(el("p", { class: "muted" },
        got.present ? "No console output (output.log is empty)." : "No console output saved (output.log)."));
      return;
    }
    let start = got.start;
    pre.textContent = got.text;
    const update = () => {
      earlier.hidden = start <= 0;
      info.textContent = start > 0 ? `showing the last ${bytes(got.size - start)} of ${bytes(got.size)}` : bytes(got.size);
    };
    earlier.addEventListener("click", async () => {
      const more = await getJSON(`${base}&before=${start}`);
      pre.prepend(document.createTextNode(more.text));
      start = more.start;
      update();
    });
    update();
    container.replaceChildren(el("div", { class: "controls" }, earlier, info,
      el("a", { href: fileUrl(run, "output.log", true) }, "download output.log")), pre);
    pre.scrollTop = pre.scrollHeight;
  } catch (err) {
    container.replaceChildren(el("p", { class: "error" }, `console: ${err.message}`));
  }
}

async function drawFiles(container, run) {
  try {
    const files = await getJSON(`/api/run/files?path=${enc(runPathOf(run))}`);
    if (!files.length) { container.replaceChildren(el("p", { class: "muted" }, "No files saved.")); return; }
    container.replaceChildren(el("div", { class: "table-wrap" }, el("table", { id: "files" },
      el("thead", {}, el("tr", {}, el("th", {}, "file"), el("th", {}, "size"), el("th", {}, "updated"))),
      el("tbody", {}, ...files.map((f) => el("tr", { class: "file-row", "data-name": f.name },
        el("td", {}, el("a", { href: fileUrl(run, f.name, true), download: "" }, f.name)),
        el("td", { class: "num" }, bytes(f.size)), el("td", {}, when(f.updated_at))))))));
  } catch (err) {
    container.replaceChildren(el("p", { class: "error" }, `files: ${err.message}`));
  }
}

function runLink(r) {
  return r ? el("a", { href: runHref(r.entity, r.project, r.id), class: "lineage-run" }, r.name || r.id) : "";
}

async function drawArtifacts(container, run) {
  try {
    const got = await getJSON(`/api/run/artifacts?path=${enc(runPathOf(run))}`);
    const head = (last) => el("thead", {}, el("tr", {}, el("th", {}, "artifact"), el("th", {}, "type"),
      el("th", {}, "aliases"), el("th", {}, "size"), el("th", {}, "created"), el("th", {}, last)));
    const row = (a, lineage) => el("tr", { class: "artifact-row", "data-name": a.name },
      el("td", {}, a.name), el("td", {}, a.type), el("td", {}, ...a.aliases.map((t) => el("span", { class: "tag" }, t))),
      el("td", { class: "num" }, bytes(a.size)), el("td", {}, a.created_at || ""), el("td", { class: "lineage" }, ...lineage));
    const parts = [];
    if (got.logged.length) {
      parts.push(el("h4", {}, "Logged by this run"), el("table", { id: "logged-artifacts" }, head("used by"),
        el("tbody", {}, ...got.logged.map((a) => row(a, a.used_by.length
          ? a.used_by.flatMap((r, i) => (i ? [", ", runLink(r)] : [runLink(r)])) : ["—"])))));
    }
    if (got.used.length) {
      parts.push(el("h4", {}, "Used by this run"), el("table", { id: "used-artifacts" }, head("logged by"),
        el("tbody", {}, ...got.used.map((a) => row(a, a.logged_by ? [runLink(a.logged_by)] : ["—"])))));
    }
    container.replaceChildren(...(parts.length ? parts : [el("p", { class: "muted" }, "No artifacts logged or used.")]));
  } catch (err) {
    container.replaceChildren(el("p", { class: "error" }, `artifacts: ${err.message}`));
  }
}

async function drawDiff(container, run) {
  const name = run.overview && run.overview.git_diff;
  if (!name) { container.replaceChildren(); return; }
  const pre = el("pre", { id: "git-diff" });
  container.replaceChildren(el("details", {}, el("summary", {}, "git diff (uncommitted changes when the run started)"), pre));
  try {
    const res = await fetch(fileUrl(run, name));
    pre.textContent = await res.text();
  } catch (err) {
    pre.textContent = `could not read the diff: ${err.message}`;
  }
}
