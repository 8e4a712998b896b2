// runhive dashboard: a run's media and objects (issue 15, item 6), drawn on the run page as W&B draws them:
// images (a step slider, captions), histograms over time (a heatmap of steps × values), audio, HTML (a sandboxed
// <iframe> of the file route, whose own policy sandboxes it again), video, tables (paged, media cells as
// thumbnails), logged plotly figures, the wandb.plot.* charts (their table drawn with plotly by spec id), and 3D
// objects and molecules (drawn with plotly's scatter3d/mesh3d from /api/run/structure: point clouds coloured by
// category or rgb, lidar scenes' boxes and vectors as lines, meshes, atoms in CPK colours with their bonds; glTF
// and other formats only a 3D engine draws are offered as downloads). Loaded before app.js, whose helpers (el, esc, enc, fmt, getJSON) it calls. Captions, keys and cells reach the DOM
// as text and plotly through esc().
"use strict";

const TABLE_PAGE = 20;

function runPathOf(run) {
  return `${run.entity}/${run.project}/${run.id}`;
}

function fileUrl(run, name, download) {
  return `/api/run/file?path=${enc(runPathOf(run))}&name=${enc(name)}${download ? "&download=1" : ""}`;
}

// Every string of a logged plotly figure escaped: plotly renders HTML-like markup in its texts.
function escDeep(v) {
  if (typeof v === "string") return esc(v);
  if (Array.isArray(v)) return v.map(escDeep);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, escDeep(x)]));
  return v;
}

// A 3D scene holds a WebGL context until purged (a browser keeps only 16 or so: older ones go blank), so plots
// about to be replaced are purged first.
function purgePlots(node) {
  node.querySelectorAll(".js-plotly-plot").forEach((d) => Plotly.purge(d));
}

function missing(what) {
  return el("p", { class: "muted" }, `${what} is not among the run's files.`);
}

// `state` is the panel's, kept across its steps (a 3D scene's camera, so the slider does not reset the view).
function mediaItem(run, category, item, state) {
  const caption = item.caption ? el("figcaption", {}, item.caption) : "";
  if (!item.name) return missing("This media file");
  if (category === "object3d" || category === "molecule") {
    const div = el("div", { class: "chart structure-3d", "data-name": item.name });
    div.style.height = "380px";
    setTimeout(() => drawWhenNear(div, () => drawStructure(div, run, item, state || {})), 0);
    return el("figure", { class: `media-3d plotly-figure kind-${category}` }, div, caption);
  }
  if (category === "image") {
    return el("figure", { class: "media-image" }, el("img", { src: fileUrl(run, item.name), alt: item.caption || "",
      loading: "lazy" }), caption);
  }
  if (category === "audio") {
    return el("figure", { class: "media-audio" }, el("audio", { controls: "", preload: "none",
      src: fileUrl(run, item.name) }), caption);
  }
  if (category === "html") {
    return el("figure", { class: "media-html" }, el("iframe", { sandbox: "allow-scripts", referrerpolicy: "no-referrer",
      src: fileUrl(run, item.name), title: item.caption || "HTML" }), caption);
  }
  if (category === "video") {
    const fmtName = String(item.format || item.name.split(".").pop()).toLowerCase();
    if (fmtName === "gif") {
      return el("figure", { class: "media-video" }, el("img", { src: fileUrl(run, item.name), alt: item.caption || "" }), caption);
    }
    if (["mp4", "webm", "ogg"].includes(fmtName)) {
      return el("figure", { class: "media-video" }, el("video", { controls: "", preload: "metadata",
        src: fileUrl(run, item.name) }), caption);
    }
    return el("figure", { class: "media-video" }, el("p", { class: "muted note" },
      `Video stored as ${fmtName === "npy" ? "a NumPy array (.npy)" : fmtName}: browsers cannot play it; `,
      el("a", { href: fileUrl(run, item.name, true) }, "download")), caption);
  }
  if (category === "table") {
    const box = el("div", { class: "media-table" });
    drawTable(box, run, item.name);
    return box;
  }
  if (category === "plotly") {
    const div = el("div", { class: "chart plotly-figure" });
    // Drawn once in the page (and near the screen): plotly sizes a chart by its container.
    setTimeout(() => drawWhenNear(div, () => getJSON(fileUrl(run, item.name)).then((fig) => {
      const f = escDeep(fig);
      const layout = { ...(f.layout || {}), autosize: true, width: undefined, height: undefined };
      Plotly.newPlot(div, f.data || [], layout, PLOT_CONFIG);
    }).catch((err) => div.replaceChildren(el("p", { class: "error" }, `plotly figure: ${err.message}`)))), 0);
    return div;
  }
  return el("p", {}, el("a", { href: fileUrl(run, item.name, true) }, item.name), ` (${item.type || "file"})`);
}

// A media key's panel: its values at one step, chosen with a slider when it was logged at several.
function mediaPanel(run, m) {
  const body = el("div", { class: "media-body" });
  const panel = el("div", { class: `media-panel kind-${m.category}`, "data-key": m.key },
    el("h4", {}, m.key));
  if (m.category === "histogram") {
    const div = el("div", { class: "chart histogram" });
    panel.append(div);
    drawWhenNear(div, () => drawHistograms(div, m));
    return panel;
  }
  const label = el("span", { class: "muted step-label" });
  const state = {};
  const show = (i) => {
    const step = m.steps[i];
    label.textContent = step === null || step === undefined ? "summary" : `step ${step}`;
    const items = Array.isArray(m.values[i]) ? m.values[i] : [];
    purgePlots(body);
    body.replaceChildren(...items.map((item) => mediaItem(run, m.category, item, state)));
  };
  if (m.steps.length > 1) {
    const slider = el("input", { type: "range", class: "step-slider", min: "0", max: String(m.steps.length - 1),
      step: "1", value: String(m.steps.length - 1) });
    slider.addEventListener("input", () => show(Number(slider.value)));
    panel.append(el("div", { class: "controls" }, slider, label));
  } else {
    panel.append(el("div", { class: "controls" }, label));
  }
  panel.append(body);
  show(m.steps.length - 1);
  return panel;
}

// Histograms over time as W&B draws them: steps along x, values along y, the count as colour. Each step's bins
// are laid onto one grid of values (its counts put in the grid bin holding each bin's centre).
function drawHistograms(div, m) {
  const hs = m.values.map((h, i) => [m.steps[i], h]).filter(([, h]) => h && h.bins && h.bins.length > 1);
  if (!hs.length) { div.replaceChildren(el("p", { class: "muted" }, "No histogram values.")); return; }
  let lo = Infinity, hi = -Infinity;
  for (const [, h] of hs) { lo = Math.min(lo, h.bins[0]); hi = Math.max(hi, h.bins[h.bins.length - 1]); }
  const n = 64, width = (hi - lo) / n || 1;
  const y = [...Array(n).keys()].map((i) => lo + (i + 0.5) * width);
  const z = y.map(() => hs.map(() => 0));
  hs.forEach(([, h], col) => {
    h.values.forEach((count, j) => {
      const centre = (h.bins[j] + h.bins[j + 1]) / 2;
      const row = Math.min(n - 1, Math.max(0, Math.floor((centre - lo) / width)));
      z[row][col] += typeof count === "number" ? count : 0;
    });
  });
  const x = hs.map(([s], i) => (s === null || s === undefined ? i : s));
  const traces = hs.length > 1
    ? [{ type: "heatmap", x, y, z, colorscale: "Blues", reversescale: false, name: esc(m.key),
      hovertemplate: "step %{x}<br>value %{y:.4g}<br>count %{z}<extra></extra>" }]
    : [{ type: "bar", x: y, y: z.map((r) => r[0]), marker: { color: "#4c6ef5" }, name: esc(m.key) }];
  Plotly.newPlot(div, traces, { title: { text: esc(m.key) }, margin: { t: 40, r: 10, l: 60, b: 45 },
    xaxis: { title: { text: hs.length > 1 ? "step" : "value" } },
    yaxis: { title: { text: hs.length > 1 ? "value" : "count" } } }, PLOT_CONFIG);
}

function tableCell(run, v) {
  if (v && typeof v === "object" && !Array.isArray(v) && typeof v._type === "string") {
    if (!v.path) return el("td", { class: "muted" }, v._type);
    if (v._type === "image-file") {
      return el("td", {}, el("img", { class: "thumb", src: fileUrl(run, v.path), alt: "", loading: "lazy" }));
    }
    if (v._type === "object3D-file" || v._type === "molecule-file") return structureCell(run, v);
    return el("td", {}, el("a", { href: fileUrl(run, v.path, true) }, v._type));
  }
  return el("td", {}, fmt(v));
}

// A 3D object or molecule in a table cell: drawn when asked (a page of cells drawn at once would take more WebGL
// contexts than a browser gives a page), in the cell, as the media panels draw them.
function structureCell(run, v) {
  const download = el("a", { href: fileUrl(run, v.path, true) }, "download");
  const view = el("button", { type: "button", class: "view-3d" }, v._type === "molecule-file" ? "view molecule" : "view 3D");
  const td = el("td", { class: "structure-cell" }, view, " ", download);
  view.addEventListener("click", () => {
    const div = el("div", { class: "chart structure-3d", "data-name": v.path });
    div.style.height = "220px";
    div.style.width = "240px";
    td.replaceChildren(div, download);
    drawStructure(div, run, { name: v.path }, {});
  });
  return td;
}

// A logged table, TABLE_PAGE rows at a time.
function drawTable(box, run, name) {
  const info = el("span", { class: "muted" });
  const prev = el("button", { type: "button", class: "prev" }, "‹");
  const next = el("button", { type: "button", class: "next" }, "›");
  const table = el("table", { class: "logged-table" });
  let offset = 0;
  const load = async () => {
    try {
      const t = await getJSON(`/api/run/table?path=${enc(runPathOf(run))}&name=${enc(name)}&offset=${offset}&limit=${TABLE_PAGE}`);
      table.replaceChildren(el("thead", {}, el("tr", {}, ...t.columns.map((c) => el("th", {}, c)))),
        el("tbody", {}, ...t.rows.map((r) => el("tr", {}, ...(Array.isArray(r) ? r : []).map((v) => tableCell(run, v))))));
      info.textContent = t.total ? `rows ${offset + 1}-${offset + t.rows.length} of ${t.total}` : "no rows";
      prev.disabled = offset === 0;
      next.disabled = offset + TABLE_PAGE >= t.total;
    } catch (err) {
      box.replaceChildren(el("p", { class: "error" }, `table: ${err.message}`));
    }
  };
  prev.addEventListener("click", () => { offset = Math.max(0, offset - TABLE_PAGE); load(); });
  next.addEventListener("click", () => { offset += TABLE_PAGE; load(); });
  box.replaceChildren(el("div", { class: "table-wrap" }, table), el("div", { class: "controls" }, prev, info, next));
  load();
}

// The wandb.plot.* charts: W&B's Vega specs, drawn with plotly from the chart's table.
function chartTraces(spec, fields, strings, cols, rows) {
  const col = (f) => { const i = cols.indexOf(fields[f]); return i < 0 ? null : rows.map((r) => r[i]); };
  const label = (v) => (typeof v === "number" ? v : esc(fmt(v)));
  const split = (keys, xs, ys, mode) => {
    const groups = new Map();
    keys.forEach((k, i) => {
      const g = fmt(k);
      if (!groups.has(g)) groups.set(g, { x: [], y: [] });
      groups.get(g).x.push(xs[i]); groups.get(g).y.push(ys[i]);
    });
    return [...groups.entries()].map(([g, d], i) => ({ type: "scatter", mode, x: d.x, y: d.y, name: esc(g),
      line: { color: colour(i) }, marker: { color: colour(i) } }));
  };
  if (spec.startsWith("wandb/line/") || spec.startsWith("wandb/scatter/")) {
    const mode = spec.startsWith("wandb/line/") ? "lines" : "markers";
    const x = col("x"), y = col("y"), stroke = fields.stroke ? col("stroke") : null;
    if (!x || !y) return null;
    return { traces: stroke ? split(stroke, x, y, mode) : [{ type: "scatter", mode, x, y, name: esc(fields.y),
      marker: { color: colour(0) }, line: { color: colour(0) } }], xt: fields.x, yt: fields.y };
  }
  if (spec.startsWith("wandb/bar/")) {
    const l = col("label"), v = col("value");
    if (!l || !v) return null;
    return { traces: [{ type: "bar", orientation: "h", y: l.map(label), x: v, marker: { color: colour(0) } }],
      xt: fields.value, yt: fields.label, ycat: true };
  }
  if (spec.startsWith("wandb/histogram/")) {
    const v = col("value");
    if (!v) return null;
    return { traces: [{ type: "histogram", x: v, marker: { color: colour(0) } }], xt: fields.value, yt: "count" };
  }
  if (spec.startsWith("wandb/lineseries/")) {
    const s = col("step"), k = col("lineKey"), v = col("lineVal");
    if (!s || !k || !v) return null;
    return { traces: split(k, s, v, "lines"), xt: strings.xname || "step", yt: "" };
  }
  if (spec.startsWith("wandb/confusion_matrix/")) {
    const a = col("Actual"), p = col("Predicted"), n = col("nPredictions");
    if (!a || !p || !n) return null;
    const names = [...new Set([...a, ...p].map(fmt))];
    const z = names.map(() => names.map(() => 0));
    a.forEach((act, i) => { z[names.indexOf(fmt(act))][names.indexOf(fmt(p[i]))] += Number(n[i]) || 0; });
    return { traces: [{ type: "heatmap", x: names.map(esc), y: names.map(esc), z, colorscale: "Blues",
      texttemplate: "%{z}", hovertemplate: "actual %{y}<br>predicted %{x}<br>%{z}<extra></extra>" }],
    xt: "Predicted", yt: "Actual", xcat: true, ycat: true, reversed: true };
  }
  if (spec.startsWith("wandb/area-under-curve/")) {
    const x = col("x"), y = col("y"), c = col("class");
    if (!x || !y || !c) return null;
    return { traces: split(c, x, y, "lines"), xt: strings["x-axis-title"] || fields.x,
      yt: strings["y-axis-title"] || fields.y };
  }
  return null;
}

function customChartPanel(run, c) {
  const div = el("div", { class: "chart custom-chart", "data-key": c.key, "data-spec": c.spec || "" });
  const panel = el("div", { class: "media-panel kind-chart", "data-key": c.key }, el("h4", {}, c.key), div);
  if (!c.table) { div.replaceWith(missing("This chart's table")); return panel; }
  drawWhenNear(div, async () => {
    try {
      const t = await getJSON(`/api/run/table?path=${enc(runPathOf(run))}&name=${enc(c.table)}&limit=10000`);
      const drawn = chartTraces(c.spec || "", c.fields || {}, c.strings || {}, t.columns, t.rows);
      if (!drawn) { // a spec runhive does not draw: its table
        const box = el("div", { class: "media-table" });
        div.replaceWith(el("p", { class: "muted" }, `Chart ${c.spec || "?"} is shown as its table.`), box);
        drawTable(box, run, c.table);
        return;
      }
      const layout = { title: { text: esc(c.strings && c.strings.title ? c.strings.title : c.key) },
        margin: { t: 40, r: 10, l: 80, b: 45 }, showlegend: drawn.traces.length > 1,
        xaxis: { title: { text: esc(drawn.xt || "") }, type: drawn.xcat ? "category" : "-" },
        yaxis: { title: { text: esc(drawn.yt || "") }, type: drawn.ycat ? "category" : "-",
          autorange: drawn.reversed ? "reversed" : true } };
      Plotly.newPlot(div, drawn.traces, layout, PLOT_CONFIG);
    } catch (err) {
      div.replaceWith(el("p", { class: "error" }, `chart ${c.key}: ${err.message}`));
    }
  });
  return panel;
}

// The run page's Media section: the wandb.plot.* charts first, then every media key.
async function drawMedia(container, run) {
  try {
    const got = await getJSON(`/api/run/media?path=${enc(runPathOf(run))}`);
    if (!got.media.length && !got.charts.length) {
      container.replaceChildren(el("p", { class: "muted" }, "No media logged."));
      return;
    }
    purgePlots(container);
    container.replaceChildren(...got.charts.map((c) => customChartPanel(run, c)),
      ...got.media.map((m) => mediaPanel(run, m)));
  } catch (err) {
    container.replaceChildren(el("p", { class: "error" }, `media: ${err.message}`));
  }
}

// The project page's media panels (as W&B's workspace makes them): one panel a media key with each charted run's
// last value beside its name and colour, and one panel a wandb.plot.* chart with the runs' tables drawn together
// in their colours (a confusion matrix, which cannot overlay, shows the first run's). `runs` carry `index` (their
// colour) and are the page's charted runs, the first PROJECT_RUNS of them.
async function drawProjectMedia(container, project, runs) {
  const shown = runs.slice(0, 20);
  if (!shown.length) { container.replaceChildren(el("p", { class: "muted" }, "No runs selected.")); return; }
  const got = await getJSON(`/api/project/media?project=${enc(project)}&runs=${enc(shown.map((r) => r.id).join(","))}`);
  const index = new Map(shown.map((r) => [r.id, r.index]));
  const keys = new Map(), charts = new Map();
  for (const r of got) {
    for (const m of r.media) {
      if (m.category === "histogram") continue; // over time, on each run's page
      if (!keys.has(m.key)) keys.set(m.key, []);
      keys.get(m.key).push([r, m]);
    }
    for (const c of r.charts) {
      if (!charts.has(c.key)) charts.set(c.key, []);
      charts.get(c.key).push([r, c]);
    }
  }
  if (!keys.size && !charts.size) { container.replaceChildren(el("p", { class: "muted" }, "No media logged.")); return; }
  const runLabel = (r) => {
    const swatch = el("span", { class: "swatch" });
    swatch.style.backgroundColor = colour(index.get(r.id) || 0);
    return el("div", { class: "media-run" }, el("a", { href: runHref(r.entity, r.project, r.id) }, r.name || r.id), swatch);
  };
  const panels = [];
  for (const [key, list] of [...charts.entries()].sort()) {
    const div = el("div", { class: "chart custom-chart", "data-key": key });
    panels.push(el("div", { class: "media-panel kind-chart", "data-key": key }, el("h4", {}, key), div));
    drawWhenNear(div, () => overlayChart(div, key, list, index));
  }
  for (const [key, list] of [...keys.entries()].sort()) {
    panels.push(el("div", { class: `media-panel kind-${list[0][1].category}`, "data-key": key }, el("h4", {}, key),
      ...list.map(([r, m]) => el("div", { class: "media-row", "data-run": r.id }, runLabel(r),
        el("div", { class: "media-body" }, ...(Array.isArray(m.value) ? m.value : [])
          .map((item) => mediaItem(r, m.category, item)))))));
  }
  purgePlots(container); // the panels drawn before: their WebGL contexts freed now, not when collected
  container.replaceChildren(...panels);
}

async function overlayChart(div, key, list, index) {
  try {
    const spec = list[0][1].spec || "";
    const single = spec.startsWith("wandb/confusion_matrix/");
    const traces = [];
    let first = null;
    for (const [r, c] of single ? list.slice(0, 1) : list) {
      if (!c.table) continue;
      const t = await getJSON(`/api/run/table?path=${enc(runPathOf(r))}&name=${enc(c.table)}&limit=10000`);
      const drawn = chartTraces(c.spec || "", c.fields || {}, c.strings || {}, t.columns, t.rows);
      if (!drawn) continue;
      first = first || { drawn, c };
      const col = colour(index.get(r.id) || 0);
      drawn.traces.forEach((tr, i) => {
        if (single) { traces.push(tr); return; }
        const sub = drawn.traces.length > 1 && tr.name ? ` ${tr.name}` : "";
        traces.push({ ...tr, name: `${esc(r.name || r.id)}${sub}`, legendgroup: r.id,
          marker: { ...(tr.marker || {}), color: col }, line: { ...(tr.line || {}), color: col, dash: ["solid", "dot", "dash", "dashdot"][i % 4] },
          opacity: tr.type === "histogram" || tr.type === "bar" ? 0.6 : 1 });
      });
    }
    if (!first) { div.replaceWith(el("p", { class: "muted" }, `Chart ${key}: no table to draw.`)); return; }
    const { drawn, c } = first;
    Plotly.newPlot(div, traces, { title: { text: esc(c.strings && c.strings.title ? c.strings.title : key) },
      margin: { t: 40, r: 10, l: 80, b: 45 }, showlegend: traces.length > 1, barmode: "overlay",
      xaxis: { title: { text: esc(drawn.xt || "") }, type: drawn.xcat ? "category" : "-" },
      yaxis: { title: { text: esc(drawn.yt || "") }, type: drawn.ycat ? "category" : "-",
        autorange: drawn.reversed ? "reversed" : true } }, PLOT_CONFIG);
  } catch (err) {
    div.replaceWith(el("p", { class: "error" }, `chart ${key}: ${err.message}`));
  }
}

// 3D objects and molecules ---------------------------------------------------------------------------------------

// run path + file name -> the parsed answer's promise, the last STRUCTURES_KEPT used: the slider going back and
// forth re-asks nothing, and a long run's steps of large point clouds do not pile up in memory.
const structures = new Map();
const STRUCTURES_KEPT = 24;

function structureOf(run, name) {
  const key = `${runPathOf(run)}\n${name}`;
  let p = structures.get(key);
  if (p) {
    structures.delete(key); // most recently used last
  } else {
    p = getJSON(`/api/run/structure?path=${enc(runPathOf(run))}&name=${enc(name)}`);
    p.catch(() => structures.delete(key)); // a failure is asked again next time
  }
  structures.set(key, p);
  while (structures.size > STRUCTURES_KEPT) structures.delete(structures.keys().next().value);
  return p;
}

// Line segments (pairs of [x, y, z]) as one trace's coordinates, a null between segments.
function segments(pairs) {
  const x = [], y = [], z = [];
  for (const [a, b] of pairs) { x.push(a[0], b[0], null); y.push(a[1], b[1], null); z.push(a[2], b[2], null); }
  return { x, y, z };
}

function pointTraces(s) {
  const size = s.shown > 20000 ? 1.5 : s.shown > 2000 ? 2.5 : 4;
  const traces = [{ type: "scatter3d", mode: "markers", x: s.x, y: s.y, z: s.z, name: "points",
    marker: { size, color: s.colors || "#4c6ef5", opacity: 0.9 }, hovertemplate: "%{x:.3g}, %{y:.3g}, %{z:.3g}<extra></extra>" }];
  const labels = { x: [], y: [], z: [], text: [], color: [] };
  // Boxes of one label and colour are one trace (one legend entry): a scene may hold hundreds.
  const groups = new Map();
  s.boxes.forEach((b) => {
    const key = `${b.label}\n${b.color}`;
    if (!groups.has(key)) groups.set(key, { label: b.label, color: b.color, pairs: [] });
    groups.get(key).pairs.push(...b.edges.map(([i, j]) => [b.corners[i], b.corners[j]]));
  });
  for (const g of groups.values()) {
    traces.push({ type: "scatter3d", mode: "lines", name: esc(g.label === null ? "boxes" : g.label), hoverinfo: "name",
      line: { color: g.color, width: 4 }, ...segments(g.pairs) });
  }
  s.boxes.forEach((b) => {
    if (b.label !== null || b.score !== null) {
      const top = b.corners.reduce((a, c) => (c[2] > a[2] ? c : a)); // the label sits on the box's top
      labels.x.push(top[0]); labels.y.push(top[1]); labels.z.push(top[2]); labels.color.push(b.color);
      // Not escaped: scatter3d's text is drawn as WebGL glyphs (vectorize-text), never as markup, so an entity
      // would show as typed.
      labels.text.push([b.label, b.score === null ? null : fmt(b.score)].filter((v) => v !== null).join(" "));
    }
  });
  if (labels.text.length) {
    traces.push({ type: "scatter3d", mode: "text", name: "labels", showlegend: false, hoverinfo: "skip",
      x: labels.x, y: labels.y, z: labels.z, text: labels.text, textposition: "top center",
      textfont: { color: labels.color, size: 12 } });
  }
  // Vectors as segments with a marker at their end, one trace a colour.
  const byColour = new Map();
  for (const v of s.vectors) {
    const color = v.color || "#e8590c";
    if (!byColour.has(color)) byColour.set(color, []);
    byColour.get(color).push([v.start, v.end]);
  }
  [...byColour.entries()].forEach(([color, pairs], n) => {
    traces.push({ type: "scatter3d", mode: "lines+markers", name: "vectors", legendgroup: "vectors",
      showlegend: n === 0, ...segments(pairs), line: { color, width: 5 },
      marker: { size: pairs.flatMap(() => [0, 5, 0]), color, symbol: "diamond" }, hoverinfo: "name" });
  });
  const note = s.shown < s.count ? `Showing ${s.shown.toLocaleString()} of ${s.count.toLocaleString()} points (evenly thinned).` : "";
  return { traces, note, count: s.shown };
}

function meshTraces(s) {
  const trace = { type: "mesh3d", x: s.x, y: s.y, z: s.z, i: s.i, j: s.j, k: s.k, name: "mesh", flatshading: true,
    lighting: { ambient: 0.5, diffuse: 0.8, specular: 0.2 }, hoverinfo: "skip" };
  if (s.colors) trace.vertexcolor = s.colors; else trace.color = "#8da0cb";
  return { traces: [trace], note: `${s.vertices.toLocaleString()} vertices, ${s.triangles.toLocaleString()} triangles`,
    count: s.triangles };
}

// Ball and stick as W&B's molecule panel shows it: atoms in CPK colours sized by their covalent radius, bonds grey.
function moleculeTraces(s) {
  const scale = s.atoms > 5000 ? 4 : s.atoms > 500 ? 8 : 14;
  const byElement = new Map();
  s.elements.forEach((e, i) => { if (!byElement.has(e)) byElement.set(e, []); byElement.get(e).push(i); });
  const traces = [{ type: "scatter3d", mode: "lines", name: "bonds", hoverinfo: "skip", showlegend: false,
    line: { color: "#9aa0ab", width: s.atoms > 5000 ? 2 : 5 },
    ...segments(s.bonds.map(([i, j]) => [[s.x[i], s.y[i], s.z[i]], [s.x[j], s.y[j], s.z[j]]])) }];
  for (const [e, idx] of [...byElement.entries()].sort()) {
    const style = s.palette[e] || { color: "#ff1493", radius: 1.5 };
    traces.push({ type: "scatter3d", mode: "markers", name: esc(e), x: idx.map((i) => s.x[i]), y: idx.map((i) => s.y[i]),
      z: idx.map((i) => s.z[i]), text: idx.map((i) => esc(s.names[i] || e)),
      hovertemplate: `%{text}<extra>${esc(e)}</extra>`,
      marker: { size: 4 + style.radius * scale, color: style.color, opacity: 1, line: { color: "#555", width: 1 } } });
  }
  const parts = [`${s.atoms.toLocaleString()} atoms`, `${s.bonds.length.toLocaleString()} bonds`];
  if (s.inferred_bonds) parts.push(`${s.inferred_bonds.toLocaleString()} inferred from distances`);
  if (s.models > 1) parts.push(`first of ${s.models} models`);
  return { traces, note: parts.join(", "), count: s.atoms };
}

function downloadLink(run, item) {
  return el("a", { href: fileUrl(run, item.name, true) }, "download");
}

// A note or error naming a file (a long hash) wraps inside its panel.
function wrapping(node) {
  node.style.overflowWrap = "anywhere";
  return node;
}

async function drawStructure(div, run, item, state) {
  const fig = div.parentNode;
  try {
    const s = await structureOf(run, item.name);
    if (s.kind === "download") {
      div.replaceWith(wrapping(el("p", { class: "muted note" }, `${s.note}: `, downloadLink(run, item), ` ${item.name}`)));
      return;
    }
    const drawn = s.kind === "molecule" ? moleculeTraces(s) : s.kind === "mesh" ? meshTraces(s) : pointTraces(s);
    const axis = (t) => ({ title: { text: t }, showspikes: false });
    const scene = { aspectmode: "data", xaxis: axis("x"), yaxis: axis("y"), zaxis: axis("z") };
    if (s.kind === "molecule") Object.assign(scene, { xaxis: { visible: false }, yaxis: { visible: false }, zaxis: { visible: false } });
    if (state.camera) scene.camera = state.camera;
    const layout = { margin: { t: 0, r: 0, l: 0, b: 0 }, scene, showlegend: drawn.traces.filter((t) => t.showlegend !== false).length > 1,
      legend: { x: 0, y: 1, bgcolor: "rgba(255,255,255,0.7)" } };
    await Plotly.newPlot(div, drawn.traces, layout, PLOT_CONFIG);
    div.dataset.kind = s.kind;
    div.dataset.count = String(drawn.count);
    div.on("plotly_relayout", (e) => { if (e && e["scene.camera"]) state.camera = e["scene.camera"]; });
    if (drawn.note && fig) fig.insertBefore(el("p", { class: "muted note structure-note" }, drawn.note), div.nextSibling);
  } catch (err) {
    div.replaceWith(wrapping(el("p", { class: "error" }, `could not draw: ${err.message} `, downloadLink(run, item))));
  }
}
