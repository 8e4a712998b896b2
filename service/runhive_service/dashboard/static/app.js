// runhive dashboard: hash routes #/ (projects), #/p/<project> (runs and charts), #/r/<entity>/<project>/<id> (a run),
// #/s/<entity>/<project>/<sweep id> (a sweep), #/c/<entity>/<project>/<id>,<id>,... (runs compared); every route
// part is URI-encoded (the compared ids one by one). Chart drawing is in charts.js.
// Names are the user's (runs, metrics, projects, config keys, tags, sweeps): the DOM gets them as text nodes only
// (never innerHTML), and plotly, which renders HTML-like markup (<a href>, <span style>, <b>) in titles, legends,
// axis labels and hover text, gets them through esc().
// Live: the project and run pages poll /api/changes?since=<cursor> every POLL_MS and fetch the metrics of the runs
// that changed only, in one request (/api/metrics?key=a&key=b&runs=...); plotly redraws with Plotly.react.
// The project page's charts draw the first N selected runs in the table's order (W&B's "runs shown", 10 unless the
// user picks another number: kept per project), each run in fewer points the more runs share a chart
// (pointsPerRun: min/max per bucket keep spikes whatever the budget).
"use strict";

const view = document.getElementById("view");
const crumbs = document.getElementById("crumbs");
const POLL_MS = 2000;
const PAGE_SIZE = 20;
const RUNS_SHOWN = 10; // W&B's default
const RUNS_SHOWN_CHOICES = [5, 10, 20, 50, 100, 0]; // 0: every selected run
const CHART_POINTS = 10000; // a chart's budget, shared by its runs
const MAX_POINTS = 1000; // a run's budget when few share a chart (the server's default)
const MIN_RUN_POINTS = 200; // a run's budget however many share a chart
const LEGEND_RUNS = 20; // charts of more runs have no legend

// Points a run when `n` runs share a chart, in steps of 100 (a run or two more or less fetches nothing again).
function pointsPerRun(n) {
  const share = Math.floor(CHART_POINTS / Math.max(1, n) / 100) * 100;
  return Math.max(MIN_RUN_POINTS, Math.min(MAX_POINTS, share));
}
let live = null; // the current page's poller: cleared when the route changes
let routeToken = 0; // which route is current: a poller started by a page the user has left stops itself

function startLive(fn) {
  const token = routeToken;
  const timer = setInterval(() => {
    if (token !== routeToken) clearInterval(timer);
    else fn();
  }, POLL_MS);
  live = timer;
}

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
const PLOT_CONFIG = { displaylogo: false, responsive: true };

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

function duration(s) {
  if (typeof s !== "number" || !isFinite(s)) return "";
  if (s < 60) return `${s.toFixed(1)}s`;
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  return h ? `${h}h ${m}m` : `${m}m ${sec}s`;
}

function stateText(r) {
  return (r.state === "failed" || r.state === "crashed") && r.exit_code !== null && r.exit_code !== undefined
    ? `${r.state} (exit ${r.exit_code})` : r.state;
}

async function projectsPage() {
  crumbs.textContent = "";
  const projects = await getJSON("/api/projects");
  if (!projects.length) {
    view.replaceChildren(el("p", { class: "muted" }, "No runs yet: log one with runhive.init()."));
    return;
  }
  // Projects of several entities (a team server: the user's own and their teams'): each named with its entity, as
  // the same name may exist under two of them.
  const entities = new Set(projects.map((p) => p.entity));
  const named = (p) => (entities.size > 1 ? `${p.entity}/${p.project}` : p.project);
  const rows = projects.map((p) =>
    el("tr", {},
      el("td", {}, el("a", { href: `#/p/${enc(named(p))}`, class: "project-link" }, p.project)),
      el("td", {}, p.entity), el("td", {}, p.runs), el("td", {}, when(p.last))));
  view.replaceChildren(el("h2", {}, "Projects"),
    el("table", { id: "projects" },
      el("thead", {}, el("tr", {}, el("th", {}, "project"), el("th", {}, "entity"), el("th", {}, "runs"),
        el("th", {}, "last run"))),
      el("tbody", {}, ...rows)));
}

// The project page ------------------------------------------------------------------------------------------------

const FIXED_COLUMNS = [
  ["name", "name"], ["state", "state"], ["created_at", "created"], ["runtime", "runtime"], ["steps", "steps"],
  ["group", "group"], ["job_type", "job type"], ["tags", "tags"], ["notes", "notes"],
];

function cellValue(r, col) {
  if (col.startsWith("c:")) return r.config[col.slice(2)];
  if (col.startsWith("s:")) return r.summary[col.slice(2)];
  if (col === "name") return r.name || r.id;
  if (col === "tags") return (r.tags || []).join(", ");
  return r[col];
}

function compare(a, b) {
  const ma = a === undefined || a === null || a === "", mb = b === undefined || b === null || b === "";
  if (ma || mb) return ma === mb ? 0 : ma ? 1 : -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return fmt(a).localeCompare(fmt(b), undefined, { numeric: true });
}

async function projectPage(project) {
  crumbs.replaceChildren(" / ", el("a", { href: `#/p/${enc(project)}` }, project));
  const changes = await getJSON(`/api/changes?project=${enc(project)}&since=0`);
  const st = {
    project, runs: new Map(), cursor: changes.cursor, data: {}, keys: [], deselected: new Set(), hidden: new Set(),
    filterIds: null, sort: { col: "created_at", desc: false }, page: 0, drawn: new Map(), order: [],
    hiddenCols: new Set(), fetched: new Set(), visible: new Set(), got: new Map(), shown: RUNS_SHOWN,
  };
  // got: key -> run id -> the points a run the held series was asked with (Infinity: every point it has).
  const prefKey = `runhive.columns.${project}`;
  try {
    const prefs = JSON.parse(localStorage.getItem(prefKey) || "{}");
    st.order = Array.isArray(prefs.order) ? prefs.order.map(String) : [];
    st.hiddenCols = new Set(Array.isArray(prefs.hidden) ? prefs.hidden.map(String) : []);
  } catch (err) {
    // no stored choice
  }
  const shownKey = `runhive.shown.${project}`;
  try {
    const n = Number(localStorage.getItem(shownKey));
    if (localStorage.getItem(shownKey) !== null && RUNS_SHOWN_CHOICES.includes(n)) st.shown = n;
  } catch (err) {
    // no stored choice
  }
  const chooserList = el("div", { class: "column-list" });
  const addRuns = (list) => {
    for (const r of list) {
      const old = st.runs.get(r.id);
      r.index = old ? old.index : st.runs.size;
      st.runs.set(r.id, r);
    }
  };
  addRuns(changes.runs);

  const search = el("input", { type: "search", id: "run-search", placeholder: "search runs" });
  const stateFilter = el("select", { id: "state-filter" },
    ...["", "running", "finished", "failed", "crashed"].map((s) => el("option", { value: s }, s || "any state")));
  const filterBox = el("input", { type: "text", id: "run-filter", size: "40",
    placeholder: 'filter, as Api().runs: {"config.lr": {"$gt": 0.01}}' });
  const filterError = el("span", { id: "filter-error", class: "error" });
  const selectAll = el("input", { type: "checkbox", id: "select-all", checked: "" });
  const thead = el("thead");
  const tbody = el("tbody");
  const pageInfo = el("span", { id: "page-info", class: "muted" });
  const prev = el("button", { id: "prev-page", type: "button" }, "‹ newer");
  const next = el("button", { id: "next-page", type: "button" }, "older ›");
  const slider = el("input", { type: "range", min: "0", max: "0.99", step: "0.01", value: "0", id: "smoothing" });
  const xaxis = el("select", { id: "xaxis" }, el("option", { value: "step" }, "step"),
    el("option", { value: "relative" }, "relative time"), el("option", { value: "wall" }, "wall time"));
  const logScale = el("input", { type: "checkbox", id: "logscale" });
  const metricSearch = el("input", { type: "search", id: "metric-search", placeholder: "search metrics" });
  const liveStatus = el("span", { id: "live-status", class: "muted" });
  const sections = el("div", { id: "sections" });
  const mediaPanels = el("div", { class: "media", id: "project-media-panels" });
  const mediaSection = el("details", { class: "media-section", id: "project-media", open: "" }, el("summary", {}, "Media"),
    mediaPanels);
  const groupBy = el("select", { id: "group-by" });
  const compareButton = el("button", { id: "compare", type: "button" }, "Compare selected");
  const runsShown = el("select", { id: "runs-shown", title: "how many of the selected runs the charts draw" },
    ...RUNS_SHOWN_CHOICES.map((n) => el("option", { value: String(n) }, n ? `first ${n}` : "all selected")));
  runsShown.value = String(st.shown);
  const chartedInfo = el("span", { id: "charted-info", class: "muted" });
  view.replaceChildren(el("h2", {}, project),
    el("div", { class: "controls" }, search, stateFilter, filterBox, filterError),
    el("details", { id: "column-chooser" }, el("summary", {}, "Columns"), chooserList),
    el("div", { class: "table-wrap" }, el("table", { id: "runs" }, thead, tbody)),
    el("div", { class: "controls" }, prev, pageInfo, next, compareButton,
      el("label", { for: "runs-shown" }, "Charts show"), runsShown, chartedInfo),
    el("div", { class: "controls" }, el("label", { for: "group-by" }, "Group by"), groupBy,
      el("label", { for: "smoothing" }, "Smoothing"), slider,
      el("label", { for: "xaxis" }, "x axis"), xaxis, el("label", {}, logScale, " log scale"), metricSearch,
      liveStatus),
    sections, mediaSection);

  const sweeps = await getJSON(`/api/sweeps?project=${enc(project)}`);
  if (sweeps.length) {
    const first = st.runs.values().next().value;
    const entity = first ? first.entity : "";
    view.insertBefore(el("p", { id: "sweeps" }, "Sweeps: ",
      ...sweeps.map((s) => el("a", { href: `#/s/${enc(entity)}/${enc(project)}/${enc(s.id)}`, class: "sweep-link" },
        `${s.name || s.id} (${s.config.method}, ${s.state.toLowerCase()}) `))), view.children[1]);
  }

  const matching = () => {
    const q = search.value.trim().toLowerCase();
    return [...st.runs.values()].filter((r) => {
      if (stateFilter.value && r.state !== stateFilter.value) return false;
      if (st.filterIds && !st.filterIds.has(r.id)) return false;
      if (!q) return true;
      return [r.name, r.id, r.group, r.job_type, r.notes, r.state, ...(r.tags || [])]
        .some((v) => String(v || "").toLowerCase().includes(q));
    });
  };
  const ordered = (list) => list.sort((a, b) => {
    const c = compare(cellValue(a, st.sort.col), cellValue(b, st.sort.col));
    return (st.sort.desc ? -c : c) || a.index - b.index;
  });
  const selected = () => ordered(matching().filter((r) => !st.deselected.has(r.id)));
  // The runs the charts draw: the first st.shown selected runs in the table's order; grouped, every selected run
  // (a group's mean needs all its members).
  const charted = () => {
    const all = selected();
    return st.shown && !groupBy.value ? all.slice(0, st.shown) : all;
  };
  // The table says which selected runs the charts draw: their swatch filled, the others' hollow.
  const markCharted = () => {
    const all = selected(), drawn = charted(), ids = new Set(drawn.map((r) => r.id));
    for (const row of tbody.querySelectorAll("tr.run-row")) {
      const on = ids.has(row.dataset.id);
      row.classList.toggle("charted", on);
      const sw = row.querySelector(".swatch");
      if (sw) sw.classList.toggle("off", !on);
    }
    chartedInfo.textContent = (drawn.length < all.length
      ? `${drawn.length} of ${all.length} selected runs (the table's first)` : `all ${all.length} selected runs`)
      + (!groupBy.value && drawn.length > LEGEND_RUNS ? "; no legend past 20 runs: the table's swatches" : "");
  };
  const columns = () => {
    const cfg = new Set(), sum = new Set();
    for (const r of st.runs.values()) {
      Object.keys(r.config || {}).forEach((k) => { if (!k.startsWith("_")) cfg.add(k); });
      Object.keys(r.summary || {}).forEach((k) => sum.add(k));
    }
    const rank = (c) => { const i = st.order.indexOf(c); return i < 0 ? Infinity : i; };
    const all = [...[...cfg].sort().map((k) => [`c:${k}`, k, "config"]),
      ...[...sum].sort().map((k) => [`s:${k}`, k, "summary"])].sort((a, b) => rank(a[0]) - rank(b[0]));
    return { all, shown: [...FIXED_COLUMNS, ...all.filter(([c]) => !st.hiddenCols.has(c))] };
  };

  // The column chooser: config and summary columns shown or hidden, moved up or down; kept per project.
  const savePrefs = () => {
    try {
      localStorage.setItem(prefKey, JSON.stringify({ order: st.order, hidden: [...st.hiddenCols] }));
    } catch (err) {
      // storage refused (private mode): the choice lasts until the page is left
    }
  };
  const renderChooser = (all) => {
    const ids = all.map(([c]) => c);
    const move = (i, by) => {
      const j = i + by;
      if (j < 0 || j >= ids.length) return;
      [ids[i], ids[j]] = [ids[j], ids[i]];
      st.order = ids;
      savePrefs();
      renderTable();
    };
    chooserList.replaceChildren(...all.map(([col, label, kind], i) => {
      const box = el("input", { type: "checkbox", class: "column-toggle" });
      box.checked = !st.hiddenCols.has(col);
      box.addEventListener("change", () => {
        if (box.checked) st.hiddenCols.delete(col); else st.hiddenCols.add(col);
        savePrefs();
        renderTable();
      });
      return el("div", { class: "column-item", "data-col": col }, el("label", {}, box, ` ${kind}: ${label}`),
        el("button", { type: "button", class: "up", onclick: () => move(i, -1) }, "↑"),
        el("button", { type: "button", class: "down", onclick: () => move(i, 1) }, "↓"));
    }));
  };

  const cell = (r, col, swatch) => {
    const td = (() => {
      if (col === "name") return el("td", {}, el("a", { href: runHref(r.entity, r.project, r.id) }, r.name || r.id),
        swatch);
      if (col === "state") return el("td", { class: `state state-${r.state}` }, stateText(r));
      if (col === "created_at") return el("td", {}, when(r.created_at));
      if (col === "runtime") return el("td", {}, duration(r.runtime));
      if (col === "tags") return el("td", {}, ...(r.tags || []).map((t) => el("span", { class: "tag" }, t)));
      return el("td", { class: col.includes(":") ? "num" : "" }, fmt(cellValue(r, col)));
    })();
    td.dataset.col = col;
    return td;
  };

  const fillGroupBy = (cols) => {
    const want = [["", "no grouping"], ["group", "group"], ["job_type", "job type"],
      ...cols.filter(([c]) => c.startsWith("c:")).sort().map(([c, label]) => [c, `config: ${label}`])];
    if (groupBy.options.length === want.length) return;
    const current = groupBy.value;
    groupBy.replaceChildren(...want.map(([v, label]) => el("option", { value: v }, label)));
    groupBy.value = current;
  };

  // x axis: step, time, or any metric (a step metric of define_metric, epoch, ...).
  const fillXAxis = () => {
    const want = ["step", "relative", "wall", ...st.keys.map((k) => `m:${k}`)];
    if (xaxis.options.length === want.length) return;
    const current = xaxis.value;
    const label = { step: "step", relative: "relative time", wall: "wall time" };
    xaxis.replaceChildren(...want.map((v) => el("option", { value: v }, label[v] || `metric: ${v.slice(2)}`)));
    xaxis.value = current;
  };

  const renderTable = () => {
    const { all, shown: cols } = columns();
    fillGroupBy(all);
    fillXAxis();
    renderChooser(all);
    thead.replaceChildren(el("tr", {}, el("th", {}, selectAll), ...cols.map(([col, label, kind]) => {
      const arrow = st.sort.col === col ? (st.sort.desc ? " ▼" : " ▲") : "";
      return el("th", { class: `sortable${kind ? ` ${kind}` : ""}`, "data-col": col,
        onclick: () => {
          st.sort = { col, desc: st.sort.col === col ? !st.sort.desc : col === "created_at" };
          st.page = 0;
          renderTable();
          if (st.shown) redraw(); // the first N runs may be others now
        } }, label, arrow);
    })));
    const rows = ordered(matching());
    const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    st.page = Math.min(st.page, pages - 1);
    const shown = rows.slice(st.page * PAGE_SIZE, (st.page + 1) * PAGE_SIZE);
    tbody.replaceChildren(...shown.map((r) => {
      const box = el("input", { type: "checkbox", class: "run-select", "data-id": r.id });
      box.checked = !st.deselected.has(r.id);
      box.addEventListener("change", () => {
        if (box.checked) st.deselected.delete(r.id); else st.deselected.add(r.id);
        markCharted();
        redraw();
      });
      const swatch = el("span", { class: "swatch" });
      swatch.style.backgroundColor = colour(r.index);
      return el("tr", { class: "run-row", "data-id": r.id }, el("td", {}, box),
        ...cols.map(([col]) => cell(r, col, swatch)));
    }));
    pageInfo.textContent = rows.length
      ? `${st.page * PAGE_SIZE + 1}-${st.page * PAGE_SIZE + shown.length} of ${rows.length} runs` : "no runs match";
    prev.disabled = st.page === 0;
    next.disabled = st.page >= pages - 1;
    markCharted();
  };

  const opts = () => ({ smoothing: Number(slider.value), xaxis: xaxis.value, log: logScale.checked, hidden: st.hidden });

  // One <details> per key prefix, one chart per key; collapsed sections and searched-away charts are not drawn.
  const layoutCharts = () => {
    const have = new Set([...sections.querySelectorAll(".chart")].map((d) => d.dataset.key));
    for (const key of st.keys) {
      if (have.has(key)) continue;
      const prefix = prefixOf(key);
      let sec = [...sections.children].find((s) => s.dataset.prefix === prefix);
      if (!sec) {
        sec = el("details", { class: "section", "data-prefix": prefix, "data-open": "1", open: "" },
          el("summary", {}, prefix), el("div", { class: "charts" }));
        // Redrawn when the user opens or closes it (the legend may move), not on the toggle event its creation
        // queues.
        sec.addEventListener("toggle", () => {
          if (sec.dataset.open === (sec.open ? "1" : "")) return;
          sec.dataset.open = sec.open ? "1" : "";
          redraw();
        });
        const after = [...sections.children].find((s) => s.dataset.prefix > prefix);
        sections.insertBefore(sec, after || null);
      }
      const grid = sec.querySelector(".charts");
      const div = el("div", { class: "chart", "data-key": key });
      const later = [...grid.children].find((d) => d.dataset.key > key);
      grid.insertBefore(div, later || null);
      observer.observe(div);
    }
  };

  // Charts are fetched and drawn when they come near the viewport (a 200-metric project draws the few on screen
  // first); each batch of keys that came into view is one request, as is each change of the charted runs (only the
  // runs and keys not held at the budget a run they need now).
  const near = (div) => {
    const r = div.getBoundingClientRect();
    return !div.hidden && r.height > 0 && r.bottom > -innerHeight && r.top < 2 * innerHeight;
  };
  const held = (key, id) => (st.got.get(key) && st.got.get(key).get(id)) || 0;
  const update = async (what, changed) => {
    if (changed.size) { // runs a poll saw change: those charted fetched now, the others when charted
      for (const byRun of st.got.values()) changed.forEach((id) => byRun.delete(id));
      const runs = charted(), keys = [...st.fetched].filter((k) => st.keys.includes(k));
      const touched = await fetchMetrics(keys, runs.filter((r) => changed.has(r.id)).map((r) => r.id),
        pointsPerRun(runs.length));
      if (what) touched.forEach((k) => what.add(k));
    }
    for (let round = 0; round < 5; round += 1) { // until what is on screen is drawn (scrolling may add)
      const runs = charted(), budget = pointsPerRun(runs.length);
      const shown = [...sections.querySelectorAll(".chart")].filter((d) => !d.hidden && d.closest("details").open);
      const divs = shown.filter((d, i) => i === 0 || st.visible.has(d.dataset.key)); // the legend's chart too
      const keys = divs.map((d) => d.dataset.key);
      // The x axis' own series for every charted run: another metric, or _runtime on a time axis (only then:
      // it would double every request).
      if (xaxis.value.startsWith("m:")) keys.push(xaxis.value.slice(2));
      else if (xaxis.value !== "step") keys.push("_runtime");
      const missing = new Set(), ids = new Set();
      for (const k of keys) {
        for (const r of runs) if (held(k, r.id) < budget) { missing.add(k); ids.add(r.id); }
      }
      const stale = divs.filter((d) => !d.data || d.dataset.stale).map((d) => d.dataset.key);
      if (!missing.size && !stale.length && what && !what.size) return;
      if (missing.size) await fetchMetrics([...missing], [...ids], budget);
      keys.forEach((k) => st.fetched.add(k));
      drawCharts(what ? new Set([...what, ...missing, ...stale]) : undefined);
      what = new Set();
    }
  };
  // refresh(keys, changed): fetch the series of the runs `changed` (ids a poll saw change) again and what the
  // charts in view lack, and draw them; redraw `keys` (a Set; every chart when left out) and the charts whose
  // series changed. One at a time, in order (a poll's fetch and a scroll's never cross); calls made while one
  // waits to start join it. redraw: the same for event handlers, a failure shown beside the controls.
  let waiting = null, waitingWhat = new Set(), waitingChanged = new Set(), last = Promise.resolve();
  const refresh = (keys, changed) => {
    if (!keys || !waitingWhat) waitingWhat = null;
    else keys.forEach((k) => waitingWhat.add(k));
    (changed || []).forEach((id) => waitingChanged.add(id));
    if (!waiting) {
      waiting = last.then(() => {
        const what = waitingWhat, ids = waitingChanged;
        waiting = null;
        waitingWhat = new Set();
        waitingChanged = new Set();
        return update(what, ids);
      });
      last = waiting.catch(() => {});
    }
    return waiting;
  };
  const redraw = (keys) => refresh(keys).catch((err) => { liveStatus.textContent = `charts: ${err.message}`; });
  const observer = new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (e.isIntersecting) st.visible.add(e.target.dataset.key); else st.visible.delete(e.target.dataset.key);
    }
    redraw(new Set());
  }, { rootMargin: "100% 0px" });

  // Redraws every shown chart, or with `only` (a set of keys) just those: a poll that brought new points of some
  // metrics leaves the other charts alone.
  const drawCharts = (only) => {
    const q = metricSearch.value.trim().toLowerCase();
    const runs = charted();
    const o = opts();
    // Past LEGEND_RUNS runs no legend (plotly's costs more than the lines, and 100 names are no help): the table's
    // swatches give the colours, hovering a line names its run, and no run stays hidden by a legend click.
    const noLegend = !groupBy.value && runs.length > LEGEND_RUNS;
    if (noLegend) o.hidden = new Set();
    let legendPlaced = noLegend;
    for (const sec of sections.children) {
      let any = false;
      for (const div of sec.querySelectorAll(".chart")) {
        const show = !q || div.dataset.key.toLowerCase().includes(q);
        div.hidden = !show;
        any = any || show;
        if (!show || !sec.open) continue;
        const legend = !legendPlaced; // one legend for every chart: on the first one shown
        legendPlaced = true;
        const key = div.dataset.key;
        if (!st.fetched.has(key) || (!legend && !st.visible.has(key))) {
          div.dataset.stale = "1"; // drawn when it comes into view
          continue;
        }
        if (only instanceof Set && !only.has(key) && div.data && !div.dataset.stale && div.layout.showlegend === legend) {
          continue;
        }
        delete div.dataset.stale;
        const legendRows = legend ? Math.ceil(runs.length / 5) : 0;
        const height = legend ? `${300 + legendRows * 22}px` : "";
        const resized = div.style.height !== height;
        div.style.height = height;
        div.classList.toggle("with-legend", legend);
        const grouped = groupBy.value;
        const traces = grouped
          ? groupTraces(div.dataset.key, runs, st.data, { ...o, legend }, grouped)
          : metricTraces(div.dataset.key, runs, st.data, { ...o, legend });
        const lo = grouped ? { ...o, xaxis: "step" } : o; // groups are averaged at each step
        Plotly.react(div, traces, metricLayout(div.dataset.key, { ...lo, legend, legendRows }), PLOT_CONFIG);
        if (resized) Plotly.Plots.resize(div);
        if (legend && !div.dataset.listening) {
          div.dataset.listening = "1";
          div.on("plotly_legendclick", (ev) => {
            const id = ev.data[ev.curveNumber].legendgroup;
            if (st.hidden.has(id)) st.hidden.delete(id); else st.hidden.add(id);
            redraw();
            return false;
          });
          div.on("plotly_legenddoubleclick", () => false);
        }
      }
      sec.hidden = !any;
    }
    if (mediaSection.open) refreshMedia(false);
  };

  // The media panels: the charted runs' last media, drawn when the section comes near the screen; again when the
  // charted runs change or one of them logged.
  let mediaShown = null;
  const refreshMedia = (force) => {
    const ids = charted().slice(0, 20).map((r) => r.id).join(",");
    if (!force && ids === mediaShown) return;
    mediaShown = ids;
    drawWhenNear(mediaPanels, () => drawProjectMedia(mediaPanels, project, charted()).catch((err) => {
      mediaPanels.replaceChildren(el("p", { class: "error" }, `media: ${err.message}`));
    }));
  };
  mediaSection.addEventListener("toggle", () => { if (mediaSection.open) refreshMedia(true); });

  const keysOf = () => [...new Set([...st.runs.values()].flatMap((r) => Object.keys(r.summary)))].sort();

  // Fetch `keys` of the runs `ids`, at most `budget` points a run, in one request and merge it into st.data.
  const fetchMetrics = async (keys, ids, budget) => {
    if (!keys.length || !ids.length) return new Set();
    const q = keys.map((k) => `key=${enc(k)}`).join("&");
    const every = ids.length === st.runs.size && ids.every((id) => st.runs.has(id)); // no need to list them
    const runs = every ? "" : `&runs=${enc(ids.join(","))}`;
    const points = budget < MAX_POINTS ? `&points=${budget}` : "";
    const got = await getJSON(`/api/metrics?project=${enc(project)}${points}&${q}${runs}`);
    const touched = new Set(); // keys whose series changed: new points, or new buckets
    for (const key of keys) {
      const series = got[key] || {}, old = st.data[key] || {};
      if (!st.got.has(key)) st.got.set(key, new Map());
      for (const id of ids) { // a series without min/max holds every point: no budget asks for more
        st.got.get(key).set(id, series[id] && series[id].min ? budget : Infinity);
      }
      for (const [id, s] of Object.entries(series)) {
        const was = old[id], n = s.step.length;
        if (!was || was.step.length !== n || was.step[n - 1] !== s.step[n - 1] || was.last[n - 1] !== s.last[n - 1]) {
          touched.add(key);
        }
      }
      st.data[key] = Object.assign(old, series);
    }
    return touched;
  };

  st.keys = keysOf();
  renderTable();
  layoutCharts();
  for (const div of sections.querySelectorAll(".chart")) if (near(div)) st.visible.add(div.dataset.key);
  await refresh(new Set());
  // The media panels on their own too: a project without a metric chart draws none, and drawCharts asks for them.
  if (mediaSection.open) refreshMedia(false);

  search.addEventListener("input", () => { st.page = 0; renderTable(); redraw(); });
  stateFilter.addEventListener("change", () => { st.page = 0; renderTable(); redraw(); });
  filterBox.addEventListener("change", async () => {
    filterError.textContent = "";
    const text = filterBox.value.trim();
    try {
      st.filterIds = text
        ? new Set((await getJSON(`/api/runs?project=${enc(project)}&filters=${enc(text)}`)).map((r) => r.id)) : null;
    } catch (err) {
      filterError.textContent = err.message;
    }
    st.page = 0;
    renderTable();
    await redraw();
  });
  selectAll.addEventListener("change", () => {
    for (const r of matching()) { if (selectAll.checked) st.deselected.delete(r.id); else st.deselected.add(r.id); }
    renderTable();
    redraw();
  });
  runsShown.addEventListener("change", () => {
    st.shown = Number(runsShown.value);
    try {
      localStorage.setItem(shownKey, String(st.shown));
    } catch (err) {
      // storage refused (private mode): the choice lasts until the page is left
    }
    markCharted();
    redraw();
  });
  prev.addEventListener("click", () => { st.page -= 1; renderTable(); });
  groupBy.addEventListener("change", () => { st.hidden.clear(); markCharted(); redraw(); });
  compareButton.addEventListener("click", () => {
    const runs = selected();
    if (runs.length < 2) { liveStatus.textContent = "select two runs or more to compare"; return; }
    location.hash = `#/c/${enc(runs[0].entity)}/${enc(project)}/${runs.map((r) => enc(r.id)).join(",")}`;
  });
  next.addEventListener("click", () => { st.page += 1; renderTable(); });
  for (const c of [slider, metricSearch]) c.addEventListener("input", () => redraw());
  logScale.addEventListener("change", () => redraw());
  xaxis.addEventListener("change", () => redraw()); // an x metric is fetched for the charted runs first

  // Live: runs updated since the cursor; their metrics only (every key, new ones included) in one request.
  let busy = false;
  const poll = async () => {
    if (busy) return;
    busy = true;
    try {
      const got = await getJSON(`/api/changes?project=${enc(project)}&since=${st.cursor}`);
      st.cursor = got.cursor;
      const changed = got.runs.filter((r) => {
        const old = st.runs.get(r.id);
        return !old || old.updated_at !== r.updated_at || old.state !== r.state || old.steps !== r.steps;
      });
      if (!changed.length) return;
      const added = changed.some((r) => !st.runs.has(r.id));
      const before = charted().map((r) => r.id).join();
      addRuns(changed);
      const keys = keysOf();
      st.keys = keys;
      renderTable();
      layoutCharts();
      // A new run joins every chart's legend, other runs may be charted now; on a time axis every x moves: then
      // all charts are redrawn, else those whose series changed.
      const moved = added || before !== charted().map((r) => r.id).join();
      await refresh(moved || xaxis.value !== "step" || groupBy.value ? undefined : new Set(),
        changed.map((r) => r.id));
      if (mediaSection.open && changed.some((r) => charted().slice(0, 20).some((c) => c.id === r.id))) refreshMedia(true);
      liveStatus.textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      liveStatus.textContent = `live updates paused: ${err.message}`;
    } finally {
      busy = false;
    }
  };
  startLive(poll);
}

// The run page ----------------------------------------------------------------------------------------------------

function overviewRows(run) {
  const o = run.overview || {};
  const rows = [
    ["state", stateText(run)], ["notes", run.notes], ["tags", run.tags], ["group", run.group],
    ["job type", run.job_type], ["created", when(run.created_at)], ["runtime", duration(run.runtime)],
    ["host", o.host], ["python", o.python], ["command", o.command], ["git commit", o.git_commit],
    ["git remote", o.git_remote],
  ];
  return rows.filter(([, v]) => v !== null && v !== undefined && v !== "" && !(Array.isArray(v) && !v.length))
    .map(([k, v]) => el("tr", { "data-field": k }, el("th", {}, k),
      el("td", { class: k === "state" ? `state state-${run.state}` : "" },
        ...(Array.isArray(v) ? v.map((t) => el("span", { class: "tag" }, t)) : [v]))));
}

async function runPage(entity, project, id) {
  crumbs.replaceChildren(" / ", el("a", { href: `#/p/${enc(project)}` }, project), " / ", id);
  const path = `/api/run?path=${enc(`${entity}/${project}/${id}`)}`;
  let run = await getJSON(path);
  const state = el("span", { class: `state state-${run.state}`, id: "run-state" }, stateText(run));
  const overview = el("tbody");
  const config = el("pre", { id: "config" });
  const summary = el("pre", { id: "summary" });
  const charts = el("div", { class: "charts", id: "run-charts" });
  const system = el("div", { class: "charts", id: "system-charts" });
  const media = el("div", { class: "media", id: "media" }, el("p", { class: "muted" }, "Loading media…"));
  const consoleBox = el("div", { id: "console-box" });
  const files = el("div", { id: "files-box" });
  const artifacts = el("div", { id: "artifacts-box" });
  const diff = el("div", { id: "diff-box" });
  view.replaceChildren(
    el("h2", {}, `${run.name || run.id} `, state),
    el("p", { class: "muted" }, `${run.entity}/${run.project}/${run.id} · started ${when(run.created_at)}`),
    el("p", { id: "tags" }, ...(run.tags || []).map((t) => el("span", { class: "tag" }, t))),
    el("h3", {}, "Overview"), el("table", { id: "overview", class: "kv" }, overview), diff,
    el("h3", {}, "Config"), config, el("h3", {}, "Summary"), summary,
    el("h3", {}, "Charts"), charts, el("h3", {}, "Media"), media, el("h3", {}, "System"), system,
    el("h3", {}, "Console output"), consoleBox, el("h3", {}, "Files"), files, el("h3", {}, "Artifacts"), artifacts);
  const runRow = { ...run, index: 0 };

  const draw = async () => {
    state.textContent = stateText(run);
    state.className = `state state-${run.state}`;
    overview.replaceChildren(...overviewRows(run));
    // W&B's own config entries (_wandb: the charts' panels) are not the user's; media in the summary by type (the
    // Media section shows them).
    const brief = (obj, media) => Object.fromEntries(Object.entries(obj || {}).filter(([k]) => !k.startsWith("_"))
      .map(([k, v]) => [k, media && v && typeof v === "object" && (v._type || (Array.isArray(v) && v.length && v[0]
        && v[0]._type)) ? `(${v._type || v[0]._type}${Array.isArray(v) ? ` ×${v.length}` : ""})` : v]));
    config.textContent = JSON.stringify(brief(run.config, false), null, 2);
    summary.textContent = JSON.stringify(brief(run.summary, true), null, 2);
    const data = run.keys.length
      ? await getJSON(`/api/metrics?project=${enc(project)}&${[...run.keys, "_runtime"]
        .map((k) => `key=${enc(k)}`).join("&")}&runs=${enc(run.id)}`) : {};
    for (const key of run.keys) {
      if (!data[key] || !data[key][run.id]) continue;
      let div = [...charts.children].find((d) => d.dataset.key === key);
      if (!div) { div = el("div", { class: "chart", "data-key": key }); charts.append(div); }
      const o = { smoothing: 0, xaxis: "step", log: false, hidden: new Set(), legend: false };
      drawWhenNear(div, () => Plotly.react(div, metricTraces(key, [runRow], data, o), metricLayout(key, o),
        PLOT_CONFIG));
    }
    const sys = run.system;
    const keys = [...new Set(sys.flatMap((r) => Object.keys(r)))].filter((k) => k.startsWith("system.")).sort();
    if (!keys.length) system.replaceChildren(el("p", { class: "muted" }, "No system metrics sampled."));
    for (const key of keys) {
      let div = [...system.children].find((d) => d.dataset && d.dataset.key === key);
      if (!div) { div = el("div", { class: "chart system", "data-key": key }); system.append(div); }
      const rows = sys.filter((r) => r[key] !== undefined);
      drawWhenNear(div, () => Plotly.react(div, [{ x: rows.map((r) => r._runtime), y: rows.map((r) => r[key]),
        type: "scatter", mode: rows.length < 2 ? "lines+markers" : "lines", name: esc(key), marker: { size: 7 } }],
      { title: { text: esc(key) }, margin: { t: 40, r: 10, l: 60, b: 45 },
        xaxis: { title: { text: "runtime (s)" } }, yaxis: { title: { text: esc(key.slice(7)) } } }, PLOT_CONFIG));
    }
  };
  await draw();
  // Media, files, console and artifacts: after the charts, each in its own request (none delays the others).
  const extras = () => Promise.all([drawMedia(media, run), drawConsole(consoleBox, run), drawFiles(files, run),
    drawArtifacts(artifacts, run), drawDiff(diff, run)]);
  await extras();
  let extrasAt = Date.now();

  let cursor = run.updated_at, busy = false;
  startLive(async () => {
    if (busy || run.state !== "running") return;
    busy = true;
    try {
      const got = await getJSON(`/api/changes?project=${enc(`${run.entity}/${project}`)}&since=${cursor}`);
      cursor = got.cursor;
      const mine = got.runs.find((r) => r.id === run.id);
      if (mine && (mine.updated_at !== run.updated_at || mine.state !== run.state)) {
        run = await getJSON(path);
        await draw();
        // Media and console read the run's whole history and files: every 10 s at most, and when it ends.
        if (run.state !== "running" || Date.now() - extrasAt > 10000) {
          extrasAt = Date.now();
          await extras();
        }
      }
    } catch (err) {
      // the next poll tries again
    } finally {
      busy = false;
    }
  });
}

// The compare page ------------------------------------------------------------------------------------------------

// Rows of `key: value per run` for every key of `field` (config or summary), those whose values differ marked.
function diffRows(runs, field) {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r[field] || {})))].filter((k) => !k.startsWith("_")).sort();
  return keys.map((k) => {
    const vals = runs.map((r) => JSON.stringify((r[field] || {})[k]));
    const differs = new Set(vals).size > 1;
    return el("tr", { class: differs ? "differs" : "same", "data-key": k }, el("th", {}, k),
      ...runs.map((r) => el("td", {}, fmt((r[field] || {})[k]))));
  });
}

async function comparePage(entity, project, ids) {
  crumbs.replaceChildren(" / ", el("a", { href: `#/p/${enc(project)}` }, project), " / compare");
  const all = (await getJSON(`/api/changes?project=${enc(project)}&since=0`)).runs;
  all.forEach((r, i) => { r.index = i; }); // the project page's colours: runs in creation order
  const runs = ids.map((id) => all.find((r) => r.id === id && r.entity === entity) || all.find((r) => r.id === id))
    .filter(Boolean);
  const head = () => el("thead", {}, el("tr", {}, el("th", {}),
    ...runs.map((r) => {
      const swatch = el("span", { class: "swatch" });
      swatch.style.backgroundColor = colour(r.index);
      return el("th", {}, el("a", { href: runHref(r.entity, r.project, r.id) }, r.name || r.id), swatch);
    })));
  const onlyDiff = el("input", { type: "checkbox", id: "only-differences", checked: "" });
  const configTable = el("table", { id: "config-diff", class: "diff only" }, head(), el("tbody", {}, ...diffRows(runs, "config")));
  const summaryTable = el("table", { id: "summary-diff", class: "diff" }, head(), el("tbody", {}, ...diffRows(runs, "summary")));
  onlyDiff.addEventListener("change", () => configTable.classList.toggle("only", onlyDiff.checked));
  const charts = el("div", { class: "charts", id: "compare-charts" });
  view.replaceChildren(el("h2", {}, `Comparing ${runs.length} runs`),
    el("h3", {}, "Config"), el("p", { class: "controls" }, el("label", {}, onlyDiff, " only differences")), configTable,
    el("h3", {}, "Summary"), summaryTable, el("h3", {}, "Charts"), charts);
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.summary || {})))].sort();
  if (!keys.length || !runs.length) return;
  // As the project's charts: each run in fewer points the more runs share a chart.
  const budget = pointsPerRun(runs.length);
  const points = budget < MAX_POINTS ? `&points=${budget}` : "";
  const data = await getJSON(`/api/metrics?project=${enc(project)}${points}&${[...keys, "_runtime"]
    .map((k) => `key=${enc(k)}`).join("&")}&runs=${enc(runs.map((r) => r.id).join(","))}`);
  keys.forEach((key, i) => {
    const div = el("div", { class: "chart", "data-key": key });
    charts.append(div);
    const o = { smoothing: 0, xaxis: "step", log: false, hidden: new Set(), legend: i === 0,
      legendRows: Math.ceil(runs.length / 5) };
    if (o.legend) div.style.height = `${300 + o.legendRows * 22}px`;
    Plotly.newPlot(div, metricTraces(key, runs, data, o), metricLayout(key, o), PLOT_CONFIG);
  });
}

// The sweep page --------------------------------------------------------------------------------------------------

// A parcoords axis: categories (a parameter's `values`, strings, booleans) get labelled ticks; log-distributed
// parameters are drawn as log10 with ticks at the real values; the rest is linear.
function axis(label, values, how) {
  if (how === "log" && values.every((v) => typeof v === "number" && v > 0)) {
    const logs = values.map((v) => Math.log10(v));
    const lo = Math.floor(Math.min(...logs)), hi = Math.ceil(Math.max(...logs));
    const ticks = [];
    for (let e = lo; e <= hi; e += 1) ticks.push(e);
    return { label: esc(label), values: logs, tickvals: ticks, ticktext: ticks.map((e) => String(Number(Math.pow(10, e).toPrecision(1)))),
      range: [lo, hi] };
  }
  if (how !== "categorical" && values.every((v) => typeof v === "number")) return { label: esc(label), values };
  const cats = [...new Set(values.map((v) => JSON.stringify(v)))].sort((a, b) =>
    compare(JSON.parse(a), JSON.parse(b)));
  return { label: esc(label), values: values.map((v) => cats.indexOf(JSON.stringify(v))),
    tickvals: cats.map((_, i) => i), ticktext: cats.map((c) => fmt(JSON.parse(c))) };  // parcoords ticks are text
}

async function sweepPage(entity, project, id) {
  crumbs.replaceChildren(" / ", el("a", { href: `#/p/${enc(project)}` }, project), " / sweep ", id);
  const url = `/api/sweep?path=${enc(`${entity}/${project}/${id}`)}`;
  let sw = await getJSON(url);
  const token = routeToken;
  const rerender = (next) => {
    if (token !== routeToken) return; // the user has left the page
    sw = next;
    renderSweep(entity, project, sw, act);
  };
  // The buttons: the node's sweep controller changes the state (as `runhive sweep --pause ID`), the page re-reads.
  const act = async (action, status) => {
    status.className = "muted";
    status.textContent = `${action}…`;
    try {
      const q = `path=${enc(`${sw.entity}/${sw.project}/${sw.id}`)}&action=${enc(action)}`;
      const res = await fetch(`/api/sweep/control?${q}`, { method: "POST", credentials: "same-origin",
        headers: { "x-runhive-action": "1" } });
      const body = await res.json();
      if (!res.ok) throw new Error(body.error || res.statusText);
      rerender(await getJSON(url));
    } catch (err) {
      status.className = "error";
      status.textContent = `${action}: ${err.message}`;
    }
  };
  renderSweep(entity, project, sw, act);
  // Live: the sweep's state (changed here, by `runhive sweep`, or by its agents) from the project's sweep list;
  // the sweep is read again when it changed or when one of the project's runs moved while the sweep goes on.
  let cursor = Math.max(0, ...sw.runs.map((r) => r.updated_at || 0)), busy = false;
  startLive(async () => {
    if (busy) return;
    busy = true;
    try {
      const listed = (await getJSON(`/api/sweeps?project=${enc(`${entity}/${project}`)}`)).find((s) => s.id === sw.id);
      let moved = listed && listed.state !== sw.state;
      if (sw.state === "RUNNING" || sw.runs.some((r) => r.state === "running")) {
        const got = await getJSON(`/api/changes?project=${enc(`${entity}/${project}`)}&since=${cursor}`);
        moved = moved || got.runs.some((r) => r.updated_at > cursor);
        cursor = got.cursor;
      }
      if (!moved) return;
      const next = await getJSON(url);
      if (JSON.stringify(next) !== JSON.stringify(sw)) rerender(next);
    } catch (err) {
      // the next poll tries again
    } finally {
      busy = false;
    }
  });
}

// Which buttons a sweep in each state offers (the controller's rules: pause a running sweep, resume a paused
// one, stop or cancel one that has not ended).
const SWEEP_ACTIONS = {
  RUNNING: ["pause", "stop", "cancel"], PAUSED: ["resume", "stop", "cancel"], PENDING: ["stop", "cancel"],
};

function renderSweep(entity, project, sw, act) {
  const done = sw.runs.filter((r) => typeof r.metric === "number");
  const head = el("tr", {}, ...["name", "state", ...sw.params, sw.metric || "metric"].map((k) => el("th", {}, k)));
  const rows = sw.runs.map((r) => el("tr", { class: `sweep-run${r.id === sw.best ? " best" : ""}` },
    el("td", {}, el("a", { href: runHref(entity, project, r.id) }, r.name || r.id)),
    el("td", { class: `state state-${r.state}` }, r.state), ...sw.params.map((k) => el("td", {}, fmt(r.params[k]))),
    el("td", {}, fmt(r.metric))));
  const chart = el("div", { class: "chart wide", id: "parcoords" });
  const scatter = el("div", { class: "chart wide", id: "metric-scatter" });
  const importance = el("table", { id: "importance" },
    el("thead", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "importance"), el("th", {}, "correlation"))),
    el("tbody", {}, ...sw.importance.map((p) => {
      const bar = el("span", { class: "bar" });
      bar.style.width = `${Math.round((p.importance || 0) * 120)}px`;
      const corr = el("span", { class: `corr ${p.correlation < 0 ? "neg" : "pos"}` }, fmt(p.correlation));
      return el("tr", { class: "importance-row", "data-param": p.param }, el("td", {}, p.param),
        el("td", {}, bar, p.importance === null ? "" : ` ${p.importance.toFixed(3)}`), el("td", {}, corr));
    })));
  const best = sw.runs.find((r) => r.id === sw.best);
  const expected = sw.expected_runs ? ` of ${sw.expected_runs}` : "";
  const status = el("span", { id: "sweep-action-status", class: "muted" });
  const actions = el("p", { class: "sweep-actions controls", id: "sweep-actions" },
    ...(sw.controls && act ? (SWEEP_ACTIONS[sw.state] || []).map((action) => el("button", { type: "button",
      class: `sweep-action sweep-${action}`, "data-action": action, onclick: () => act(action, status) },
    action[0].toUpperCase() + action.slice(1))) : []), status);
  view.replaceChildren(el("h2", {}, `Sweep ${sw.name ? `${sw.name} (${sw.id})` : sw.id} `,
    el("span", { class: "muted", id: "sweep-state" }, sw.state)), actions,
    el("p", { class: "muted" }, `${sw.method} search · ${sw.runs.length}${expected} runs · ` +
      (sw.metric ? `${sw.goal} ${sw.metric}` : "no metric")),
    el("p", { id: "best-run" }, best ? el("span", {}, "Best run: ",
      el("a", { href: runHref(entity, project, best.id) }, best.name || best.id), ` (${fmt(best.metric)})`) : ""),
    chart,
    el("div", { class: "row" },
      el("div", { class: "half" }, el("h3", {}, "Parameter importance"), sw.importance.length ? importance
        : el("p", { class: "muted" }, "Needs three finished runs with the metric.")),
      el("div", { class: "half" }, scatter)),
    el("table", { id: "sweep-runs" }, el("thead", {}, head), el("tbody", {}, ...rows)),
    el("h3", {}, "Sweep config"), el("pre", { id: "sweep-config" }, JSON.stringify(sw.config, null, 2)));
  if (done.length && sw.metric) {
    const dims = sw.params.map((k) => axis(k, done.map((r) => r.params[k]), sw.kinds[k]));
    const metric = done.map((r) => r.metric);
    dims.push({ label: esc(sw.metric), values: metric });
    Plotly.newPlot(chart, [{ type: "parcoords", dimensions: dims,
      line: { color: metric, colorscale: "Viridis", reversescale: sw.goal !== "maximize", showscale: true } }],
      { margin: { t: 50, r: 40, l: 60, b: 30 } }, PLOT_CONFIG);
    const t = (r) => new Date(r.created_at * 1000);
    const traces = [{ x: done.map(t), y: metric, text: done.map((r) => esc(r.name || r.id)), type: "scatter",
      mode: "markers", name: "runs", marker: { color: "#4c6ef5", size: 8 } }];
    if (best && typeof best.metric === "number") {
      traces.push({ x: [t(best)], y: [best.metric], text: [esc(best.name || best.id)], type: "scatter",
        mode: "markers", name: "best", marker: { color: "#e8590c", size: 16, symbol: "star" } });
    }
    Plotly.newPlot(scatter, traces, { title: { text: `${esc(sw.metric)} over time` }, margin: { t: 40, r: 10, l: 60, b: 45 },
      xaxis: { title: { text: "run started" }, type: "date" }, yaxis: { title: { text: esc(sw.metric) } },
      legend: { orientation: "h" } }, PLOT_CONFIG);
  } else {
    chart.replaceWith(el("p", { class: "muted" }, "No finished run with the metric yet."));
    scatter.remove();
  }
}

async function route() {
  if (live !== null) { clearInterval(live); live = null; }
  routeToken += 1;
  lazy.clear();
  try {
    const raw = location.hash.replace(/^#\/?/, "").split("/");
    const parts = raw.map(decodeURIComponent);
    if (parts[0] === "p" && parts[1]) await projectPage(parts[1]);
    else if (parts[0] === "r" && parts.length >= 4) await runPage(parts[1], parts[2], parts[3]);
    else if (parts[0] === "s" && parts.length >= 4) await sweepPage(parts[1], parts[2], parts[3]);
    else if (parts[0] === "c" && parts.length >= 4) {
      await comparePage(parts[1], parts[2], raw[3].split(",").map(decodeURIComponent)); // ids encoded one by one
    }
    else await projectsPage();
  } catch (err) {
    view.replaceChildren(el("p", { class: "error" }, `Error: ${err.message}`));
  }
  document.body.dataset.ready = location.hash || "#/";
}

// Behind `runhive server`'s login: who is logged in, and the way out (`runhive ui` has no /api/whoami: nothing shown).
async function showUser() {
  try {
    const res = await fetch("/api/whoami");
    if (!res.ok) return;
    const me = await res.json();
    document.getElementById("who").replaceChildren(me.user, el("a", { href: "/logout", id: "logout-link" }, "Log out"));
  } catch (err) { /* the local dashboard: no login */ }
}

window.addEventListener("hashchange", route);
route();
showUser();
