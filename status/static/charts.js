/* driftline status page: tiny SVG charts (line chart, heatmap). No dependencies. */
(function (global) {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, str, attrs) {
    var t = el("text", Object.assign({ x: x, y: y }, attrs || {}), parent);
    t.textContent = str;
    return t;
  }

  function hhmm(ms) {
    var d = new Date(ms);
    return pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function pad(n) { return String(n).padStart(2, "0"); }

  /* Labels for the ticks at xs[i] (every `every`-th one): with seconds when ticks are under a minute
     apart (short windows), the date when the ticks span days, and never the same label twice in a row. */
  function tickLabels(xs, every) {
    var labels = [], last = null;
    var step = xs.length > every ? xs[every] - xs[0] : 60000;
    var days = xs.length && new Date(xs[0]).toDateString() !== new Date(xs[xs.length - 1]).toDateString();
    xs.forEach(function (x, i) {
      if (i % every !== 0) { labels.push(""); return; }
      var d = new Date(x);
      var text = hhmm(x) + (step < 60000 ? ":" + pad(d.getSeconds()) : "");
      if (days && (last === null || new Date(last).toDateString() !== d.toDateString())) {
        text = (d.getMonth() + 1) + "/" + d.getDate() + " " + text;
      }
      if (labels.length && text === labels.filter(Boolean).slice(-1)[0]) text = "";
      if (text) last = x;
      labels.push(text);
    });
    return labels;
  }

  function fmt(v) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    var a = Math.abs(v);
    if (a >= 1000) return v.toFixed(0);
    if (a >= 100) return v.toFixed(0);
    if (a >= 10) return v.toFixed(1);
    if (a >= 1) return v.toFixed(2);
    return v.toFixed(3);
  }

  function niceTicks(lo, hi, count) {
    if (lo === hi) { hi = lo + 1; }
    var span = hi - lo, step = Math.pow(10, Math.floor(Math.log10(span / count)));
    var err = (count * step) / span;
    if (err <= 0.15) step *= 10; else if (err <= 0.35) step *= 5; else if (err <= 0.75) step *= 2;
    var ticks = [], start = Math.ceil(lo / step) * step;
    for (var v = start; v <= hi + step * 1e-9; v += step) ticks.push(+v.toFixed(10));
    return ticks;
  }

  /* opts: {xs: [ms], series: [{name, values, color, dash, width}], height, yMin, yMax, threshold: {value, label}, unit} */
  function lineChart(container, opts) {
    container.innerHTML = "";
    var W = container.clientWidth || 520, H = opts.height || 170;
    var m = { l: 44, r: 10, t: 10, b: 22 };
    var svg = el("svg", { width: "100%", height: H, viewBox: "0 0 " + W + " " + H, class: "chart", role: "img" }, container);
    var xs = opts.xs || [];
    var all = [];
    opts.series.forEach(function (s) { s.values.forEach(function (v) { if (v !== null && isFinite(v)) all.push(v); }); });
    if (opts.threshold) all.push(opts.threshold.value);
    if (!xs.length || !all.length) {
      text(svg, W / 2, H / 2, "waiting for data…", { class: "empty", "text-anchor": "middle" });
      return;
    }
    var lo = opts.yMin !== undefined ? opts.yMin : Math.min.apply(null, all);
    var hi = opts.yMax !== undefined ? opts.yMax : Math.max.apply(null, all);
    if (opts.yMin === undefined) lo = lo - (hi - lo) * 0.08;
    if (opts.yMax === undefined) hi = hi + (hi - lo) * 0.08;
    if (hi - lo < 1e-9) { hi += 1; lo -= opts.yMin === undefined ? 1 : 0; }
    var x0 = xs[0], x1 = xs[xs.length - 1] === x0 ? x0 + 1 : xs[xs.length - 1];
    function X(v) { return m.l + ((v - x0) / (x1 - x0)) * (W - m.l - m.r); }
    function Y(v) { return H - m.b - ((v - lo) / (hi - lo)) * (H - m.t - m.b); }
    var ticks = niceTicks(lo, hi, 4);
    var step = ticks.length > 1 ? ticks[1] - ticks[0] : 1;
    var decimals = step >= 1 ? 0 : Math.min(3, Math.ceil(-Math.log10(step) - 1e-9));
    ticks.forEach(function (t) {
      el("line", { x1: m.l, x2: W - m.r, y1: Y(t), y2: Y(t), class: "grid" }, svg);
      text(svg, m.l - 6, Y(t) + 4, t.toFixed(decimals), { class: "tick", "text-anchor": "end" });
    });
    var every = Math.max(1, Math.ceil(xs.length / Math.max(2, Math.floor((W - m.l) / 70))));
    var xLabels = tickLabels(xs, every);
    xs.forEach(function (x, i) {
      if (xLabels[i]) text(svg, Math.min(X(x), W - m.r - 14), H - 6, xLabels[i], { class: "tick", "text-anchor": "middle" });
    });
    if (opts.threshold) {
      var ty = Y(opts.threshold.value);
      el("line", { x1: m.l, x2: W - m.r, y1: ty, y2: ty, class: "threshold" }, svg);
      text(svg, m.l + 4, ty - 4, opts.threshold.label, { class: "tick threshold-label", "text-anchor": "start" });
    }
    opts.series.forEach(function (s) {
      var d = "", pen = false;
      s.values.forEach(function (v, i) {
        if (v === null || !isFinite(v)) { pen = false; return; }
        d += (pen ? "L" : "M") + X(xs[i]).toFixed(1) + " " + Y(v).toFixed(1);
        pen = true;
      });
      if (d) el("path", { d: d, class: "line", stroke: s.color, "stroke-width": s.width || 2, "stroke-dasharray": s.dash }, svg);
      var last = null;
      for (var i = s.values.length - 1; i >= 0; i--) if (s.values[i] !== null && isFinite(s.values[i])) { last = i; break; }
      if (last !== null) el("circle", { cx: X(xs[last]), cy: Y(s.values[last]), r: 2.8, fill: s.color }, svg);
    });
  }

  /* An always-valid interval per window, narrowing as data comes in: a band (lower..upper) around the
     estimate and the "no difference" line. opts: {xs, estimate, lower, upper, height, color, label} */
  function intervalChart(container, opts) {
    container.innerHTML = "";
    var W = container.clientWidth || 520, H = opts.height || 150;
    var m = { l: 50, r: 10, t: 10, b: 22 };
    var svg = el("svg", { width: "100%", height: H, viewBox: "0 0 " + W + " " + H, class: "chart interval-chart", role: "img" }, container);
    var xs = opts.xs || [], pts = [];
    xs.forEach(function (x, i) {
      var lo = opts.lower[i], hi = opts.upper[i], est = opts.estimate[i];
      if (est !== null && isFinite(est)) pts.push({ x: x, lo: lo !== null && isFinite(lo) ? lo : null, hi: hi !== null && isFinite(hi) ? hi : null, est: est });
    });
    if (!pts.length) {
      text(svg, W / 2, H / 2, "waiting for the minimum sample…", { class: "empty", "text-anchor": "middle" });
      return;
    }
    var all = [0];
    pts.forEach(function (p) { all.push(p.est); if (p.lo !== null) all.push(p.lo); if (p.hi !== null) all.push(p.hi); });
    var recent = pts.slice(-Math.max(3, Math.ceil(pts.length / 2)));
    var span = Math.max.apply(null, recent.map(function (p) { return Math.abs(p.est) + Math.abs((p.hi !== null ? p.hi : p.est) - (p.lo !== null ? p.lo : p.est)); }));
    var lo = Math.max(Math.min.apply(null, all), -3 * span - 1e-9), hi = Math.min(Math.max.apply(null, all), 3 * span + 1e-9);
    lo = Math.min(lo, 0); hi = Math.max(hi, 0);
    var pad = (hi - lo) * 0.08 || 0.01; lo -= pad; hi += pad;
    var x0 = pts[0].x, x1 = pts[pts.length - 1].x === x0 ? x0 + 1 : pts[pts.length - 1].x;
    function X(v) { return m.l + ((v - x0) / (x1 - x0)) * (W - m.l - m.r); }
    function Y(v) { return H - m.b - ((Math.max(lo, Math.min(hi, v)) - lo) / (hi - lo)) * (H - m.t - m.b); }
    niceTicks(lo, hi, 4).forEach(function (t) {
      el("line", { x1: m.l, x2: W - m.r, y1: Y(t), y2: Y(t), class: "grid" }, svg);
      text(svg, m.l - 6, Y(t) + 4, fmt(t), { class: "tick", "text-anchor": "end" });
    });
    var band = pts.map(function (p) { return X(p.x).toFixed(1) + "," + Y(p.hi !== null ? p.hi : hi).toFixed(1); })
      .concat(pts.slice().reverse().map(function (p) { return X(p.x).toFixed(1) + "," + Y(p.lo !== null ? p.lo : lo).toFixed(1); }));
    el("polygon", { points: band.join(" "), class: "band", fill: opts.color || "#3b82f6" }, svg);
    el("line", { x1: m.l, x2: W - m.r, y1: Y(0), y2: Y(0), class: "threshold" }, svg);
    text(svg, m.l + 4, Y(0) - 4, opts.label || "no difference", { class: "tick threshold-label", "text-anchor": "start" });
    var d = pts.map(function (p, i) { return (i ? "L" : "M") + X(p.x).toFixed(1) + " " + Y(p.est).toFixed(1); }).join("");
    el("path", { d: d, class: "line", stroke: opts.color || "#3b82f6", "stroke-width": 2 }, svg);
    var every = Math.max(1, Math.ceil(pts.length / Math.max(2, Math.floor((W - m.l) / 70))));
    pts.forEach(function (p, i) {
      if (i % every === 0) text(svg, Math.min(X(p.x), W - m.r - 14), H - 6, hhmm(p.x), { class: "tick", "text-anchor": "middle" });
    });
  }

  function heatColour(score, drifted) {
    if (score === null || score === undefined) return "var(--cell-empty)";
    var s = Math.max(0, Math.min(score, 3));
    if (drifted) {
      var t = Math.max(0, Math.min(1, (s - 1) / 2));  // 1 .. 3 -> amber .. red
      return "hsl(" + (38 - 34 * t).toFixed(0) + ", 88%, " + (56 - 10 * t).toFixed(0) + "%)";
    }
    // Calm greens, darker as it nears 1. A test past its own threshold whose feature the correction
    // (Holm over the features, the tests of a feature combined) did not find drifted stays green.
    return "hsl(152, 40%, " + (92 - Math.min(s, 1) * 36).toFixed(0) + "%)";
  }

  /* data: {windows: [ms], features: [{name, cells: [{score, drifted, test, statistic, p_value, threshold}|null]}]} */
  function heatmap(container, data) {
    container.innerHTML = "";
    var W = container.clientWidth || 520;
    var rows = data.features || [], cols = data.windows || [];
    if (!cols.length || !rows.length) {
      var p = document.createElement("p");
      p.className = "empty"; p.textContent = "waiting for the reference to fill and the first windows to close…";
      container.appendChild(p);
      return;
    }
    var labelW = 96, rowH = 20, top = 4, bottom = 20;
    var H = top + rows.length * rowH + bottom;
    var cw = (W - labelW - 4) / cols.length;
    var svg = el("svg", { width: "100%", height: H, viewBox: "0 0 " + W + " " + H, class: "heatmap" }, container);
    rows.forEach(function (row, r) {
      var y = top + r * rowH;
      var drifting = row.cells.length && row.cells[row.cells.length - 1] && row.cells[row.cells.length - 1].drifted;
      text(svg, labelW - 8, y + rowH / 2 + 4, row.name, { class: "rowlabel" + (drifting ? " hot" : ""), "text-anchor": "end", "data-feature": row.name });
      row.cells.forEach(function (c, i) {
        var rect = el("rect", {
          x: (labelW + i * cw).toFixed(1), y: y + 1, width: Math.max(1, cw - 1.5).toFixed(1), height: rowH - 3, rx: 2,
          fill: heatColour(c && c.score, c && c.drifted), class: c && c.drifted ? "cell drifted" : "cell"
        }, svg);
        var t = el("title", {}, rect);
        t.textContent = row.name + " · " + hhmm(cols[i]) + (c ? " · " + c.test + " " +
          (c.p_value !== null ? "p=" + c.p_value.toExponential(1) : fmt(c.statistic)) +
          " (threshold " + c.threshold + ")" + (c.drifted ? " · DRIFTED" : "") : " · no data");
      });
    });
    var every = Math.max(1, Math.ceil(cols.length / Math.max(2, Math.floor((W - labelW) / 70))));
    var colLabels = tickLabels(cols, every);
    cols.forEach(function (x, i) {
      if (colLabels[i]) text(svg, labelW + i * cw + cw / 2, H - 5, colLabels[i], { class: "tick", "text-anchor": "middle" });
    });
  }

  /* A small multiple: one line, no axes; the y range is shared by the caller (lo, hi) so rows compare. */
  function sparkline(container, values, opts) {
    container.innerHTML = "";
    var W = opts.width || 120, H = opts.height || 28, lo = opts.lo, hi = opts.hi;
    var svg = el("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, class: "spark" }, container);
    var pts = [];
    values.forEach(function (v, i) { if (v !== null && isFinite(v)) pts.push([i, v]); });
    if (!pts.length) { text(svg, W / 2, H / 2 + 4, "–", { class: "tick", "text-anchor": "middle" }); return; }
    if (hi - lo < 1e-12) { hi = lo + 1; }
    function X(i) { return 2 + (values.length > 1 ? i / (values.length - 1) : 0.5) * (W - 4); }
    function Y(v) { return H - 3 - ((v - lo) / (hi - lo)) * (H - 6); }
    var d = pts.map(function (p, k) { return (k ? "L" : "M") + X(p[0]).toFixed(1) + " " + Y(p[1]).toFixed(1); }).join("");
    el("path", { d: d, class: "line", stroke: opts.color || "#3b82f6", "stroke-width": 1.5 }, svg);
    var last = pts[pts.length - 1];
    el("circle", { cx: X(last[0]), cy: Y(last[1]), r: 2, fill: opts.color || "#3b82f6" }, svg);
  }

  function legend(container, items) {
    container.innerHTML = "";
    items.forEach(function (it) {
      var span = document.createElement("span");
      span.className = "legend-item";
      var sw = document.createElement("i");
      sw.style.background = it.color;
      if (it.dash) sw.className = "dashed";
      span.appendChild(sw);
      span.appendChild(document.createTextNode(it.name));
      container.appendChild(span);
    });
  }

  global.DriftlineCharts = { lineChart: lineChart, intervalChart: intervalChart, heatmap: heatmap, legend: legend,
                             sparkline: sparkline, fmt: fmt, hhmm: hhmm, tickLabels: tickLabels };
})(window);
