/* driftline status page: fetches the JSON API and renders models, drift, performance, latency, alerts. */
(function () {
  "use strict";
  var C = window.DriftlineCharts;
  var REFRESH_MS = 3000;
  var PALETTE = ["#3b82f6", "#f97316", "#a855f7", "#14b8a6", "#e11d48", "#84cc16"];
  var METRIC_LABELS = {
    accuracy: "accuracy", f1: "F1", roc_auc: "AUC", macro_f1: "macro F1", mae: "MAE", rmse: "RMSE",
    label_coverage: "label coverage", latency_p50_ms: "p50", latency_p95_ms: "p95", latency_p99_ms: "p99"
  };
  var selectedVersion = {};   // model -> version shown in the heatmap and latency chart
  var timer = null;

  function $(id) { return document.getElementById(id); }
  function h(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined) n.textContent = text;
    return n;
  }
  function getJSON(url) {
    return fetch(url, { cache: "no-store" }).then(function (r) {
      if (r.status === 401) {  // the session cookie expired or the token changed: sign in again
        window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
        throw new Error("signed out");
      }
      if (!r.ok) return r.json().catch(function () { return {}; }).then(function (b) {
        throw new Error(url + ": " + (b.error || r.status));
      });
      return r.json();
    });
  }
  function colourOf(versions, v) { return PALETTE[Math.max(0, versions.indexOf(v)) % PALETTE.length]; }
  function ago(ms) {
    var s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    return s < 90 ? s + " s ago" : Math.round(s / 60) + " min ago";
  }

  function renderOverview(models) {
    var root = $("overview");
    root.innerHTML = "";
    models.forEach(function (m) {
      var card = h("a", "model-card state-" + m.state);
      card.href = "#model-" + m.name;
      var head = h("div", "model-card-head");
      head.appendChild(h("span", "model-name", m.name));
      head.appendChild(h("span", "badge badge-" + m.state, m.state));
      card.appendChild(head);
      card.appendChild(h("div", "muted small", m.task.replace(/_/g, " ") + " · " + Object.keys(m.features).length + " features"));
      var vs = h("div", "versions");
      if (!m.versions.length) vs.appendChild(h("span", "muted small", "no closed window yet"));
      m.versions.forEach(function (v) {
        var row = h("div", "version-row");
        row.appendChild(h("span", "dot dot-" + v.state));
        row.appendChild(h("span", "version-name", v.version));
        row.appendChild(h("span", "muted small", v.predictions.toLocaleString() + " predictions · " +
          (v.predictions ? Math.round(100 * v.labels / v.predictions) : 0) + "% labelled"));
        vs.appendChild(row);
        var notes = [];
        if (v.drifted_features.length) {
          var d = h("div", "note drift-note");
          d.appendChild(document.createTextNode("drifting: "));
          v.drifted_features.forEach(function (f, i) {
            if (i) d.appendChild(document.createTextNode(", "));
            d.appendChild(h("span", "drifted-feature", f));
          });
          vs.appendChild(d);
        }
        v.firing.forEach(function (a) {
          vs.appendChild(h("div", "note firing-note sev-" + a.severity, a.severity + " · " + a.kind.replace(/_/g, " ")));
        });
        (v.references || []).forEach(function (r) {
          // The reference this worker uses for the version; "replaced" when the config won over a checkpoint.
          var text = "reference: " + (r.digest ? r.source + " " + r.digest : "warm-up in progress");
          if (r.replaced) text += " (replaced the checkpointed " + r.replaced + ")";
          vs.appendChild(h("div", "note reference-note" + (r.replaced ? " replaced" : ""), text));
        });
        if (v.last_window_end) notes.push("last window " + C.hhmm(v.last_window_end));
      });
      card.appendChild(vs);
      root.appendChild(card);
    });
  }

  function section(model) {
    var id = "model-" + model.name;
    var sec = $(id);
    if (sec) return sec;
    sec = h("section", "card model-section");
    sec.id = id;
    sec.innerHTML =
      '<div class="card-head"><h2></h2><div class="tabs"></div></div>' +
      '<div class="panel"><div class="panel-head"><h3>Drift by feature</h3><span class="muted small scale">' +
      '<i class="sw sw-ok"></i>below threshold <i class="sw sw-warn"></i>drifted <i class="sw sw-hot"></i>3× threshold</span></div>' +
      '<div class="heat"></div></div>' +
      '<div class="grid2">' +
      '<div class="panel"><div class="panel-head"><h3 class="perf-title">Performance</h3><span class="legend perf-legend"></span></div><div class="perf"></div></div>' +
      '<div class="panel"><div class="panel-head"><h3>Label coverage</h3><span class="legend cov-legend"></span></div><div class="cov"></div></div>' +
      '</div>' +
      '<div class="panel"><div class="panel-head"><h3>Latency (ms)</h3><span class="legend lat-legend"></span></div><div class="lat"></div></div>' +
      '<div class="panel experiments-panel" hidden><div class="panel-head"><h3>Experiments · champion vs challenger</h3>' +
      '<span class="muted small">always-valid intervals: safe to read after every window</span></div><div class="experiments"></div></div>' +
      '<div class="panel segments" hidden><div class="panel-head"><h3>Segments · worst first</h3>' +
      '<span class="muted small seg-note"></span></div><div class="fairness"></div><div class="seg"></div></div>';
    $("models").appendChild(sec);
    return sec;
  }

  function renderModel(model, drift, perf, lat) {
    var sec = section(model);
    sec.querySelector("h2").innerHTML = "";
    sec.querySelector("h2").appendChild(document.createTextNode(model.name + " "));
    sec.querySelector("h2").appendChild(h("span", "badge badge-" + model.state, model.state));
    // The governance dossier of the version shown, made on demand (GET /report/{model}).
    var dossier = h("a", "dossier-link small", "governance dossier");
    dossier.href = "/report/" + encodeURIComponent(model.name) + "?version=" + encodeURIComponent(drift.version || "");
    dossier.target = "_blank";
    dossier.rel = "noopener";
    sec.querySelector("h2").appendChild(document.createTextNode(" "));
    sec.querySelector("h2").appendChild(dossier);
    var tabs = sec.querySelector(".tabs");
    tabs.innerHTML = "";
    var versions = drift.versions.length ? drift.versions : [drift.version];
    versions.forEach(function (v) {
      var b = h("button", "tab" + (v === drift.version ? " active" : ""), v);
      b.type = "button";
      b.onclick = function () { selectedVersion[model.name] = v; refresh(); };
      tabs.appendChild(b);
    });
    C.heatmap(sec.querySelector(".heat"), drift);

    var main = perf.metrics[0];
    var allVersions = Object.keys(perf.series).sort();
    sec.querySelector(".perf-title").textContent = "Performance · " + (METRIC_LABELS[main] || main);
    var perfSeries = allVersions.map(function (v) {
      return { name: v, values: perf.series[v][main], color: colourOf(allVersions, v) };
    });
    // The estimate before labels (CBPE, DLE), dashed beside the realized metric, where the store has it.
    var estimated = "estimated_" + main;
    if (perf.metrics.indexOf(estimated) >= 0) allVersions.forEach(function (v) {
      var values = perf.series[v][estimated];
      if (values && values.some(function (x) { return x !== null; }))
        perfSeries.push({ name: v + " estimated", values: values, color: colourOf(allVersions, v), dash: "5 4" });
    });
    var threshold = main === "accuracy" ? { value: 0.8, label: "alert < 0.8" } : null;
    C.lineChart(sec.querySelector(".perf"), { xs: perf.windows, series: perfSeries, height: 160, threshold: threshold,
      yMin: main === "accuracy" || main === "roc_auc" ? undefined : 0 });
    C.legend(sec.querySelector(".perf-legend"), perfSeries);
    var covSeries = allVersions.map(function (v) {
      return { name: v, values: perf.series[v].label_coverage, color: colourOf(allVersions, v) };
    });
    C.lineChart(sec.querySelector(".cov"), { xs: perf.windows, series: covSeries, height: 160, yMin: 0, yMax: 1 });
    C.legend(sec.querySelector(".cov-legend"), covSeries);

    var v = drift.version, s = lat.series[v] || {};
    var latSeries = [
      { name: v + " p50", values: s.latency_p50_ms || [], color: "#94a3b8", width: 1.5 },
      { name: v + " p95", values: s.latency_p95_ms || [], color: "#3b82f6", width: 2.2 },
      { name: v + " p99", values: s.latency_p99_ms || [], color: "#a855f7", width: 1.5, dash: "4 3" }
    ];
    C.lineChart(sec.querySelector(".lat"), { xs: lat.windows, series: latSeries, height: 150, yMin: 0 });
    C.legend(sec.querySelector(".lat-legend"), latSeries);
  }

  var VERDICT_BADGE = { "continue": "badge-ok", promote: "badge-ok", rollback: "badge-alerting", inconclusive: "badge-drifting" };

  function renderExperiments(model, data) {
    var sec = section(model);
    var panel = sec.querySelector(".experiments-panel"), root = sec.querySelector(".experiments");
    panel.hidden = !data.experiments.length;
    root.innerHTML = "";
    var states = {};
    data.versions.forEach(function (v) { states[v.version] = v; });
    data.experiments.forEach(function (e) {
      var box = h("div", "experiment verdict-" + e.verdict);
      root.appendChild(box);  // attached first: the chart takes the width it is given
      box.dataset.experiment = e.experiment;
      box.dataset.verdict = e.verdict;
      var head = h("div", "experiment-head");
      head.appendChild(h("span", "experiment-name", e.experiment));
      head.appendChild(h("span", "badge " + (VERDICT_BADGE[e.verdict] || "badge-ok"), e.verdict));
      if (e.verdict !== "continue" && e.action && e.action !== "notify") head.appendChild(h("span", "alert-action small", "action: " + e.action));
      head.appendChild(h("span", "muted small", e.metric + (e.paired ? " · paired by request_id" : "") + " · α " + C.fmt(e.alpha)));
      box.appendChild(head);
      var sides = h("div", "sides");
      [["champion", e.champion, e.champion_value, e.n_champion], ["challenger", e.challenger, e.challenger_value, e.n_challenger]]
        .forEach(function (side) {
          var card = h("div", "side side-" + side[0]);
          card.appendChild(h("div", "muted small", side[0]));
          var name = h("div", "side-name", side[1]);
          var st = states[side[1]];
          if (st) name.appendChild(h("span", "lifecycle lifecycle-" + st.state, st.state.replace("_", " ")));
          card.appendChild(name);
          card.appendChild(h("div", "side-value", e.metric + " " + C.fmt(side[2])));
          card.appendChild(h("div", "muted small", (side[3] || 0).toLocaleString() + " labelled events"));
          sides.appendChild(card);
        });
      box.appendChild(sides);
      box.appendChild(h("div", "small", "challenger − champion: " + C.fmt(e.estimate) + " [" + C.fmt(e.lower) + ", " + C.fmt(e.upper) + "]"));
      var chart = h("div", "interval");
      box.appendChild(chart);
      C.intervalChart(chart, { xs: e.windows, estimate: e.series.estimate, lower: e.series.lower, upper: e.series.upper,
        color: e.verdict === "rollback" ? "#dc2626" : e.verdict === "promote" ? "#16a34a" : "#3b82f6" });
      var notes = [];
      e.guardrails.concat(e.checks).forEach(function (g) {
        var txt = g.metric + " " + (g.kind === "ratio" ? "×" : "Δ") + C.fmt(g.estimate) + " [" + C.fmt(g.lower) + ", " + C.fmt(g.upper) + "]";
        if (g.limit !== null && g.limit !== undefined) txt += " limit " + g.limit + (g.breached ? " BREACHED" : "");
        notes.push(txt);
      });
      if (notes.length) box.appendChild(h("div", "muted small", notes.join(" · ")));
      if (e.reason) box.appendChild(h("div", "experiment-reason small", e.reason));
    });
  }

  var SEG_LABELS = { accuracy: "accuracy", selection_rate: "selection rate", label_coverage: "label coverage",
    predictions: "predictions", mae: "MAE" };

  function renderSegments(model, seg) {
    var sec = section(model), panel = sec.querySelector(".segments");
    panel.hidden = !seg.keys.length;
    if (!seg.keys.length) return;
    var fair = sec.querySelector(".fairness");
    fair.innerHTML = "";
    seg.fairness.forEach(function (f) {
      var chip = h("span", "fair-chip" + (f.flagged ? " flagged" : ""),
        f.key + " · " + f.measure.replace(/_/g, " ") + " " + C.fmt(f.value) +
        (f.threshold !== null ? " (threshold " + f.threshold + ")" : "") + " · " + f.worst + " " + C.fmt(f.worst_value) +
        " (n=" + f.worst_n + ") vs " + f.best + " " + C.fmt(f.best_value) + " (n=" + f.best_n + ")");
      fair.appendChild(chip);
    });
    var root = sec.querySelector(".seg");
    root.innerHTML = "";
    sec.querySelector(".seg-note").textContent = seg.windows.length ? seg.windows.length + " windows" : "waiting for windows…";
    seg.keys.forEach(function (k) {
      var table = h("table", "seg-table");
      table.dataset.key = k.key;
      var head = h("tr");
      head.appendChild(h("th", "seg-key", k.key));
      seg.metrics.forEach(function (m) { head.appendChild(h("th", null, SEG_LABELS[m] || m)); });
      table.appendChild(head);
      var ranges = {};
      seg.metrics.forEach(function (m) {
        var all = [];
        k.groups.forEach(function (g) { g.series[m].forEach(function (v) { if (v !== null) all.push(v); }); });
        ranges[m] = all.length ? [Math.min.apply(null, all), Math.max.apply(null, all)] : [0, 1];
      });
      k.groups.forEach(function (g, i) {
        var row = h("tr", "seg-row" + (i === 0 && g.score !== null ? " worst" : ""));
        row.appendChild(h("td", "seg-group", g.group));
        seg.metrics.forEach(function (m) {
          var td = h("td", "seg-cell"), box = h("span", "spark-box");
          td.appendChild(box);
          var vals = g.series[m], last = null;
          for (var j = vals.length - 1; j >= 0; j--) if (vals[j] !== null) { last = vals[j]; break; }
          td.appendChild(h("span", "seg-value", C.fmt(last)));
          C.sparkline(box, vals, { lo: ranges[m][0], hi: ranges[m][1], color: i === 0 ? "#e11d48" : "#3b82f6" });
          row.appendChild(td);
        });
        table.appendChild(row);
      });
      if (k.more) {
        var more = h("tr");
        var td = h("td", "muted small", "+" + k.more + " more groups");
        td.colSpan = seg.metrics.length + 1;
        more.appendChild(td);
        table.appendChild(more);
      }
      root.appendChild(table);
    });
  }

  function evidenceText(a) {
    var parts = [];
    (a.features || []).forEach(function (f) {
      parts.push(f.name + " " + f.test + (f.p_value !== null && f.p_value !== undefined ?
        " p=" + Number(f.p_value).toExponential(1) : " " + C.fmt(f.statistic)) + " (threshold " + f.threshold + ")");
    });
    var e = a.evidence || {};
    if (e.metric && e.op) parts.push(e.metric + " = " + C.fmt(e.value) + " " + e.op + " " + e.threshold + " (n=" + e.n + ")");
    if (e.events) e.events.forEach(function (ev) { parts.push(ev.detector + " " + ev.state + " at error #" + ev.index); });
    if (e.measures) e.measures.filter(function (m) { return m.flagged; }).forEach(function (m) {
      parts.push(m.measure.replace(/_/g, " ") + " " + C.fmt(m.value) + ": " + m.worst_group + " " + C.fmt(m.worst_value) +
        " (n=" + m.worst_n + ") vs " + m.best_group + " " + C.fmt(m.best_value) + " (n=" + m.best_n + ")");
    });
    if (e.windows_matched) parts.push(e.windows_matched + " window" + (e.windows_matched > 1 ? "s" : "") + " matched");
    if (e.clean_windows) parts.push(e.clean_windows + " clean window" + (e.clean_windows > 1 ? "s" : ""));
    if (e.verdict && e.upper !== undefined) parts.push(e.metric + " Δ " + C.fmt(e.estimate) + " [" + C.fmt(e.lower) + ", " + C.fmt(e.upper) + "]");
    return parts.join(" · ");
  }

  function renderAlerts(alerts) {
    var list = $("alerts");
    list.innerHTML = "";
    var firing = alerts.filter(function (a) { return a.status === "firing"; }).length;
    $("alert-count").textContent = alerts.length ? alerts.length + " shown" : "";
    if (!alerts.length) {
      list.appendChild(h("li", "empty", "No alerts yet."));
      return;
    }
    alerts.forEach(function (a) {
      var li = h("li", "alert alert-" + a.status + " sev-" + a.severity);
      li.dataset.kind = a.kind;
      var top = h("div", "alert-top");
      top.appendChild(h("span", "badge badge-" + (a.status === "resolved" ? "ok" : a.severity === "critical" ? "alerting" : "drifting"),
        a.status === "resolved" ? "resolved" : a.severity));
      top.appendChild(h("span", "alert-kind", a.kind.replace(/_/g, " ")));
      top.appendChild(h("span", "alert-where", a.model + "/" + a.version));
      top.appendChild(h("span", "muted small alert-time", C.hhmm(a.window_start_ms) + "–" + C.hhmm(a.window_end_ms)));
      li.appendChild(top);
      li.appendChild(h("div", "alert-summary", a.summary));
      var ev = evidenceText(a);
      if (ev) li.appendChild(h("div", "alert-evidence muted small", ev));
      if (a.action && a.action !== "notify" && a.status === "firing") li.appendChild(h("div", "alert-action small", "action: " + a.action));
      list.appendChild(li);
    });
  }

  function refresh() {
    clearTimeout(timer);
    getJSON("/api/models").then(function (data) {
      renderOverview(data.models);
      data.models.forEach(section);   // page order follows the config, whatever answers first
      return Promise.all(data.models.map(function (m) {
        var v = selectedVersion[m.name] ? "&version=" + encodeURIComponent(selectedVersion[m.name]) : "";
        var base = "/api/models/" + encodeURIComponent(m.name);
        return Promise.all([getJSON(base + "/drift?windows=30" + v), getJSON(base + "/performance?windows=45"),
                            getJSON(base + "/latency?windows=45"), getJSON(base + "/experiments?windows=60"),
                            getJSON(base + "/segments?windows=30")])
          .then(function (r) { renderModel(m, r[0], r[1], r[2]); renderExperiments(m, r[3]); renderSegments(m, r[4]); });
      })).then(function () { return getJSON("/api/alerts?limit=50"); })
        .then(function (a) { renderAlerts(a.alerts); });
    }).then(function () {
      $("error").hidden = true;
      $("live-dot").className = "dot dot-ok";
      $("updated").textContent = "updated " + new Date().toLocaleTimeString();
      document.body.dataset.loaded = "1";
    }).catch(function (err) {
      $("error").hidden = false;
      $("error").textContent = "Cannot load status: " + err.message;
      $("live-dot").className = "dot dot-alerting";
    }).then(function () {
      if ($("autorefresh").checked) timer = setTimeout(refresh, REFRESH_MS);
    });
  }

  $("autorefresh").addEventListener("change", function () { if (this.checked) refresh(); else clearTimeout(timer); });
  window.addEventListener("resize", function () { refresh(); });
  refresh();
})();
