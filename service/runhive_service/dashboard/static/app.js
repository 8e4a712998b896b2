// runhive dashboard: hash routes #/ (projects), #/p/<project> (runs and charts), #/r/<entity>/<project>/<id> (a run),
// #/s/<entity>/<project>/<sweep id> (a sweep); every route part is URI-encoded.
// Names are the user's (runs, metrics, projects, config keys, tags, sweeps): the DOM gets them as text nodes only
// (never innerHTML), and plotly, which renders HTML-like markup (<a href>, <span style>, <b>) in titles, legends,
// axis labels and hover text, gets them through esc().
"use strict";

const view = document.getElementById("view");
const crumbs = document.getElementById("crumbs");

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

// plotly shows HTML entities as the characters they stand for, so an escaped name reads as typed.
function esc(v) {
  return String(v).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

const enc = encodeURIComponent;

function runHref(entity, project, id) {
  return `#/r/${enc(entity)}/${enc(project)}/${enc(id)}`;
}

async function getJSON(url) {
  const res = await fetch(url);
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

function fmt(v) {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toPrecision(4);
  if (v === null || v === undefined) return "";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

function when(t) {
  return t ? new Date(t * 1000).toLocaleString() : "";
}

// Exponential moving average, as W&B's default smoothing; gaps (null) are kept.
function smooth(values, weight) {
  if (!weight) return values;
  let last = null;
  return values.map((v) => {
    if (v === null) return null;
    last = last === null ? v : last * weight + (1 - weight) * v;
    return last;
  });
}

async function projectsPage() {
  crumbs.textContent = "";
  const projects = await getJSON("/api/projects");
  if (!projects.length) {
    view.replaceChildren(el("p", { class: "muted" }, "No runs yet: log one with runhive.init()."));
    return;
  }
  const rows = projects.map((p) =>
    el("tr", {},
      el("td", {}, el("a", { href: `#/p/${enc(p.project)}`, class: "project-link" }, p.project)),
      el("td", {}, p.entity), el("td", {}, p.runs), el("td", {}, when(p.last))));
  view.replaceChildren(el("h2", {}, "Projects"),
    el("table", { id: "projects" },
      el("thead", {}, el("tr", {}, el("th", {}, "project"), el("th", {}, "entity"), el("th", {}, "runs"),
        el("th", {}, "last run"))),
      el("tbody", {}, ...rows)));
}

async function projectPage(project) {
  crumbs.replaceChildren(" / ", el("a", { href: `#/p/${enc(project)}` }, project));
  const runs = await getJSON(`/api/runs?project=${enc(project)}`);
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.summary)))].sort();
  const head = el("tr", {}, ...["name", "id", "state", "steps", "created", ...keys].map((k) => el("th", {}, k)));
  const body = runs.map((r) =>
    el("tr", { class: "run-row" },
      el("td", {}, el("a", { href: runHref(r.entity, r.project, r.id) }, r.name || r.id)),
      el("td", {}, r.id), el("td", { class: `state-${r.state}` }, r.state), el("td", {}, r.steps),
      el("td", {}, when(r.created_at)), ...keys.map((k) => el("td", {}, fmt(r.summary[k])))));
  const slider = el("input", { type: "range", min: "0", max: "0.99", step: "0.01", value: "0", id: "smoothing" });
  const charts = el("div", { class: "charts" });
  view.replaceChildren(el("h2", {}, project),
    el("table", { id: "runs" }, el("thead", {}, head), el("tbody", {}, ...body)),
    el("div", { class: "controls" }, el("label", { for: "smoothing" }, "Smoothing"), slider),
    charts);
  const sweeps = await getJSON(`/api/sweeps?project=${enc(project)}`);
  if (sweeps.length) {
    const entity = runs.length ? runs[0].entity : "";
    view.insertBefore(el("p", { id: "sweeps" }, "Sweeps: ",
      ...sweeps.map((s) => el("a", { href: `#/s/${enc(entity)}/${enc(project)}/${enc(s.id)}`, class: "sweep-link" },
        `${s.name || s.id} (${s.config.method}, ${s.state.toLowerCase()}) `))), view.children[1]);
  }
  const names = Object.fromEntries(runs.map((r) => [r.id, r.name || r.id]));
  const drawn = [];
  for (const key of keys) {
    const div = el("div", { class: "chart", "data-key": key });
    charts.append(div);
    const series = await getJSON(`/api/metric?project=${enc(project)}&key=${enc(key)}`);
    drawn.push({ div, key, series });
  }
  const draw = () => {
    const w = Number(slider.value);
    for (const { div, key, series } of drawn) {
      // Each point is a bucket of the stored chunks: its last value drawn as the line, its min and max as a band.
      const traces = [];
      for (const [id, s] of Object.entries(series)) {
        const banded = s.min.some((v, i) => v !== s.max[i]);
        if (banded) {
          traces.push({ x: s.step, y: s.min, mode: "lines", line: { width: 0 }, showlegend: false, hoverinfo: "skip",
            legendgroup: id });
          traces.push({ x: s.step, y: s.max, mode: "lines", line: { width: 0 }, fill: "tonexty",
            fillcolor: "rgba(120,130,150,0.15)", showlegend: false, hoverinfo: "skip", legendgroup: id });
        }
        traces.push({ x: s.step, y: smooth(s.last, w), name: esc(names[id] || id), mode: "lines", type: "scatter",
          legendgroup: id });
      }
      Plotly.react(div, traces, { title: { text: esc(key) }, margin: { t: 40, r: 10, l: 50, b: 40 },
        xaxis: { title: { text: "step" } }, showlegend: true }, { displaylogo: false, responsive: true });
    }
  };
  slider.addEventListener("input", draw);
  draw();
}

async function runPage(entity, project, id) {
  crumbs.replaceChildren(" / ", el("a", { href: `#/p/${enc(project)}` }, project), " / ", id);
  const run = await getJSON(`/api/run?path=${enc(`${entity}/${project}/${id}`)}`);
  const charts = el("div", { class: "charts" });
  view.replaceChildren(
    el("h2", {}, `${run.name || run.id} `, el("span", { class: `state-${run.state}` }, run.state)),
    el("p", { class: "muted" }, `${run.entity}/${run.project}/${run.id} · started ${when(run.created_at)}`),
    el("p", { id: "tags" }, ...(run.tags || []).map((t) => el("span", { class: "tag" }, t))),
    el("h3", {}, "Config"), el("pre", { id: "config" }, JSON.stringify(run.config, null, 2)),
    el("h3", {}, "Summary"), el("pre", { id: "summary" }, JSON.stringify(run.summary, null, 2)),
    el("h3", {}, "Charts"), charts);
  for (const key of run.keys) {
    const series = await getJSON(
      `/api/metric?project=${enc(project)}&key=${enc(key)}&runs=${enc(run.id)}`);
    const s = series[run.id];
    if (!s) continue;
    const div = el("div", { class: "chart", "data-key": key });
    charts.append(div);
    Plotly.newPlot(div, [{ x: s.step, y: s.last, mode: "lines", name: esc(key) }],
      { title: { text: esc(key) }, margin: { t: 40, r: 10, l: 50, b: 40 } }, { displaylogo: false, responsive: true });
  }
  const sys = run.system;
  if (sys.length) {
    const keys = Object.keys(sys[sys.length - 1]).filter((k) => k.startsWith("system.")).sort();
    for (const key of keys) {
      const div = el("div", { class: "chart system", "data-key": key });
      charts.append(div);
      Plotly.newPlot(div, [{ x: sys.map((r) => r._runtime), y: sys.map((r) => r[key] ?? null), mode: "lines" }],
        { title: { text: esc(key) }, margin: { t: 40, r: 10, l: 50, b: 40 }, xaxis: { title: { text: "seconds" } } },
        { displaylogo: false, responsive: true });
    }
  }
}

// A numeric axis for numbers; categories (strings, booleans) get an axis of their own with labelled ticks.
function axis(label, values) {
  if (values.every((v) => typeof v === "number")) return { label: esc(label), values };
  const cats = [...new Set(values.map((v) => JSON.stringify(v)))];
  return { label: esc(label), values: values.map((v) => cats.indexOf(JSON.stringify(v))),
    tickvals: cats.map((_, i) => i), ticktext: cats.map((c) => fmt(JSON.parse(c))) };  // parcoords ticks are text
}

async function sweepPage(entity, project, id) {
  crumbs.replaceChildren(" / ", el("a", { href: `#/p/${enc(project)}` }, project), " / sweep ", id);
  const sw = await getJSON(`/api/sweep?path=${enc(`${entity}/${project}/${id}`)}`);
  const done = sw.runs.filter((r) => typeof r.metric === "number");
  const head = el("tr", {}, ...["name", "state", ...sw.params, sw.metric || "metric"].map((k) => el("th", {}, k)));
  const rows = sw.runs.map((r) => el("tr", { class: "sweep-run" },
    el("td", {}, el("a", { href: runHref(entity, project, r.id) }, r.name || r.id)),
    el("td", { class: `state-${r.state}` }, r.state), ...sw.params.map((k) => el("td", {}, fmt(r.params[k]))),
    el("td", {}, fmt(r.metric))));
  const chart = el("div", { class: "chart wide", id: "parcoords" });
  const expected = sw.expected_runs ? ` of ${sw.expected_runs}` : "";
  view.replaceChildren(el("h2", {}, `Sweep ${sw.name ? `${sw.name} (${sw.id})` : sw.id} `, el("span", { class: "muted" }, sw.state)),
    el("p", { class: "muted" }, `${sw.method} search · ${sw.runs.length}${expected} runs · ` +
      (sw.metric ? `${sw.goal} ${sw.metric}` : "no metric")),
    chart, el("table", { id: "sweep-runs" }, el("thead", {}, head), el("tbody", {}, ...rows)));
  if (done.length && sw.metric) {
    const dims = sw.params.map((k) => axis(k, done.map((r) => r.params[k])));
    const metric = done.map((r) => r.metric);
    dims.push({ label: esc(sw.metric), values: metric });
    Plotly.newPlot(chart, [{ type: "parcoords", dimensions: dims,
      line: { color: metric, colorscale: "Viridis", reversescale: sw.goal !== "maximize", showscale: true } }],
      { margin: { t: 50, r: 40, l: 60, b: 30 } },
      { displaylogo: false, responsive: true });
  } else {
    chart.replaceWith(el("p", { class: "muted" }, "No finished run with the metric yet."));
  }
}

async function route() {
  try {
    const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
    if (parts[0] === "p" && parts[1]) await projectPage(parts[1]);
    else if (parts[0] === "r" && parts.length >= 4) await runPage(parts[1], parts[2], parts[3]);
    else if (parts[0] === "s" && parts.length >= 4) await sweepPage(parts[1], parts[2], parts[3]);
    else await projectsPage();
  } catch (err) {
    view.replaceChildren(el("p", { class: "error" }, `Error: ${err.message}`));
  }
  document.body.dataset.ready = location.hash || "#/";
}

window.addEventListener("hashchange", route);
route();
