// runhive dashboard: how charts are drawn (loaded before app.js, which draws the pages). Every name that reaches
// plotly goes through esc() (app.js): plotly renders HTML-like markup in titles, legends and hover text.
"use strict";

// One colour per run, the same in every chart: hues a golden angle apart (neighbours never look alike; 100 runs
// stay distinct), lightness in three steps.
function colour(i, alpha) {
  const h = (i * 137.508) % 360, s = 70 - (Math.floor(i / 3) % 2) * 15, l = 38 + (i % 3) * 10;
  return alpha === undefined ? `hsl(${h.toFixed(1)},${s}%,${l}%)` : `hsla(${h.toFixed(1)},${s}%,${l}%,${alpha})`;
}

// W&B's exponential moving average (TensorBoard's, debiased so the start is not pulled to 0); gaps kept.
function smooth(values, weight) {
  if (!weight) return values;
  let acc = 0, n = 0;
  return values.map((v) => {
    if (v === null || v === undefined) return null;
    acc = acc * weight + (1 - weight) * v;
    n += 1;
    return acc / (1 - Math.pow(weight, n));
  });
}

// The time of each step, interpolated from the run's _runtime series (steps ascending).
function timesAt(ts, steps) {
  if (!ts || !ts.step.length) return null;
  const xs = ts.step, ys = ts.last;
  let j = 0;
  return steps.map((s) => {
    while (j + 1 < xs.length && xs[j + 1] <= s) j += 1;
    if (j + 1 >= xs.length || xs[j] >= s) return ys[j];
    const f = (s - xs[j]) / (xs[j + 1] - xs[j]);
    return ys[j] + f * (ys[j + 1] - ys[j]);
  });
}

// A section per key prefix ("train/loss" → "train"), keys without one under "charts".
function prefixOf(key) {
  const i = key.indexOf("/");
  return i > 0 ? key.slice(0, i) : "charts";
}

// A chart of more runs than this draws no min/max bands: each run's downsampled line goes through every bucket's
// min and max instead (one trace a run, not three; a spike stays a stroke of the line).
const BAND_RUNS = 20;

// A downsampled series as one line through each bucket's min and max, ending at the one nearer the bucket's last
// value (the line goes on from where the bucket ended); x is the bucket's first x.
function envelope(x, s) {
  const xs = [], ys = [];
  s.last.forEach((v, i) => {
    const lo = s.min[i], hi = s.max[i];
    if (lo === null || hi === null || lo === hi) { xs.push(x[i]); ys.push(v); return; }
    const up = v !== null && Math.abs(hi - v) <= Math.abs(v - lo);
    xs.push(x[i], x[i]);
    ys.push(up ? lo : hi, up ? hi : lo);
  });
  return { x: xs, y: ys };
}

// Traces of one metric: per run its line (smoothed when asked, the raw line faint behind it), and where buckets
// hold several points their min/max band (with many runs: the line through min and max), all in the run's colour.
// Only the legend chart shows the legend.
function metricTraces(key, runs, data, opts) {
  const traces = [];
  const bands = runs.length <= BAND_RUNS;
  for (const r of runs) {
    const s = data[key] && data[key][r.id];
    if (!s || !s.step.length) {
      if (opts.legend) { // the shared legend lists every charted run, also those without this metric
        traces.push({ x: [null], y: [null], name: esc(r.name || r.id), type: "scatter", mode: "lines",
          line: { color: colour(r.index) }, legendgroup: r.id, hoverinfo: "skip",
          visible: opts.hidden.has(r.id) ? "legendonly" : true });
      }
      continue;
    }
    let x = s.step;
    if (opts.xaxis.startsWith("m:")) { // another metric as x (a define_metric step metric, epoch, ...)
      const k = opts.xaxis.slice(2);
      const v = timesAt(data[k] && data[k][r.id], s.step); // its value at each step, interpolated
      if (v) x = v;
    } else if (opts.xaxis !== "step") {
      const t = timesAt(data._runtime && data._runtime[r.id], s.step); // seconds since the run started
      if (t) x = opts.xaxis === "wall" ? t.map((v) => new Date((r.created_at + v) * 1000)) : t;
    }
    const c = colour(r.index), id = r.id, visible = opts.hidden.has(id) ? "legendonly" : true;
    const single = s.step.length < 2;
    const raw = !bands && s.min && s.max ? envelope(x, s) : { x, y: s.last };
    const line = opts.smoothing ? { x, y: smooth(s.last, opts.smoothing) } : raw;
    traces.push({ ...line, name: esc(r.name || r.id), type: "scatter",
      mode: single ? "lines+markers" : "lines", line: { color: c, width: bands ? 1.6 : 1.2 }, marker: { color: c, size: 6 },
      legendgroup: id, visible, showlegend: opts.legend });
    if (opts.smoothing) {
      traces.push({ ...raw, type: "scatter", mode: "lines", line: { color: c, width: 1 }, opacity: 0.25,
        hoverinfo: "skip", showlegend: false, legendgroup: id, visible });
    }
    if (bands && s.min && s.max) { // edges drawn faintly: a one-bucket spike is too narrow for the fill alone
      const edge = { width: 1, color: colour(r.index, 0.35) };
      traces.push({ x, y: s.min, type: "scatter", mode: "lines", line: edge, hoverinfo: "skip",
        showlegend: false, legendgroup: id, visible });
      traces.push({ x, y: s.max, type: "scatter", mode: "lines", line: edge, fill: "tonexty",
        fillcolor: colour(r.index, 0.15), hoverinfo: "skip", showlegend: false, legendgroup: id, visible });
    }
  }
  return traces;
}

const XTITLE = { step: "step", relative: "relative time (s)", wall: "wall time" };

function metricLayout(key, opts) {
  const layout = {
    title: { text: esc(key) }, margin: { t: 40, r: 10, l: 60, b: 45 }, showlegend: opts.legend,
    xaxis: { title: { text: XTITLE[opts.xaxis] || esc(opts.xaxis.slice(2)), standoff: 8 }, automargin: true,
      type: opts.xaxis === "wall" ? "date" : "linear" },
    yaxis: { title: { text: esc(key) }, type: opts.log ? "log" : "linear" }, uirevision: key,
  };
  if (opts.legend) { // below the x axis title, the chart taller by its rows
    layout.legend = { orientation: "h", yref: "container", y: 0, yanchor: "bottom", x: 0 };
    layout.margin.b = 50 + opts.legendRows * 22;
  }
  return layout;
}

// Values of `ys` (at steps `xs`, ascending) at the steps of `grid`, linearly interpolated; null outside the run.
function interpolate(xs, ys, grid) {
  let j = 0;
  return grid.map((g) => {
    if (!xs.length || g < xs[0] || g > xs[xs.length - 1]) return null;
    while (j + 1 < xs.length && xs[j + 1] <= g) j += 1;
    if (xs[j] === g || j + 1 >= xs.length) return ys[j];
    const a = ys[j], b = ys[j + 1];
    if (a === null || b === null) return null;
    return a + ((g - xs[j]) / (xs[j + 1] - xs[j])) * (b - a);
  });
}

function groupOf(r, by) {
  const v = by === "group" ? r.group : by === "job_type" ? r.job_type : (r.config || {})[by.slice(2)];
  return v === undefined || v === null || v === "" ? "(none)" : fmt(v);
}

// Grouped charts: one line per group (the mean of its runs at each step) and a band from their min to max.
function groupTraces(key, runs, data, opts, by) {
  const groups = new Map();
  for (const r of runs) {
    const g = groupOf(r, by);
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g).push(r);
  }
  const traces = [];
  [...groups.keys()].sort(compare).forEach((g, gi) => {
    const id = `group:${g}`, c = colour(gi), visible = opts.hidden.has(id) ? "legendonly" : true;
    const name = esc(`${g} (${groups.get(g).length} runs)`);
    const members = groups.get(g).map((r) => data[key] && data[key][r.id]).filter((s) => s && s.step.length);
    if (!members.length) {
      if (opts.legend) traces.push({ x: [null], y: [null], name, type: "scatter", mode: "lines", line: { color: c },
        legendgroup: id, hoverinfo: "skip", visible });
      return;
    }
    let grid = [...new Set(members.flatMap((s) => s.step))].sort((a, b) => a - b);
    if (grid.length > 1000) {
      const stride = grid.length / 1000;
      grid = [...Array(1000).keys()].map((i) => grid[Math.floor(i * stride)]);
    }
    const cols = members.map((s) => interpolate(s.step, s.last, grid));
    const mean = [], lo = [], hi = [];
    grid.forEach((_, i) => {
      const vals = cols.map((col) => col[i]).filter((v) => v !== null && v !== undefined);
      mean.push(vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : null);
      lo.push(vals.length ? Math.min(...vals) : null);
      hi.push(vals.length ? Math.max(...vals) : null);
    });
    traces.push({ x: grid, y: smooth(mean, opts.smoothing), name, type: "scatter",
      mode: grid.length < 2 ? "lines+markers" : "lines", line: { color: c, width: 2 }, legendgroup: id, visible,
      showlegend: opts.legend });
    traces.push({ x: grid, y: lo, type: "scatter", mode: "lines", line: { width: 0, color: c }, hoverinfo: "skip",
      showlegend: false, legendgroup: id, visible });
    traces.push({ x: grid, y: hi, type: "scatter", mode: "lines", line: { width: 0, color: c }, fill: "tonexty",
      fillcolor: colour(gi, 0.18), hoverinfo: "skip", showlegend: false, legendgroup: id, visible });
  });
  return traces;
}

// A chart drawn now if it is near the screen, else when it scrolls near (a run with 200 metrics draws the few
// in view first).
const lazy = new Map();
const lazyObserver = new IntersectionObserver((entries) => {
  for (const e of entries) {
    const fn = e.isIntersecting && lazy.get(e.target);
    if (fn) { lazy.delete(e.target); lazyObserver.unobserve(e.target); fn(); }
  }
}, { rootMargin: "100% 0px" });

function nearScreen(div) {
  const r = div.getBoundingClientRect();
  return r.height > 0 && r.bottom > -innerHeight && r.top < 2 * innerHeight;
}

function drawWhenNear(div, fn) {
  if (nearScreen(div)) { lazy.delete(div); fn(); return; }
  lazy.set(div, fn);
  lazyObserver.observe(div);
}
