/* The compare page: "differences only" toggle, overlaid metric histories, parallel coordinates.
 * Reads the page's data from <script id="compare-data"> (the same JSON as /api/compare). */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("compare-data").textContent);
  var charts = window.trackflowCharts;
  var names = {};
  data.runs.forEach(function (r) { names[r.id] = r.name; });

  function setQuery(key, value) {
    var url = new URL(window.location.href);
    if (value === null || value === "") { url.searchParams.delete(key); } else { url.searchParams.set(key, value); }
    window.history.replaceState(null, "", url.toString());
  }

  document.querySelectorAll(".swatch[data-series]").forEach(function (el) {
    el.style.background = charts.palette(Number(el.getAttribute("data-series")));
  });

  var toggle = document.getElementById("diff-only");
  if (toggle) {
    toggle.addEventListener("change", function () {
      document.getElementById("params-table").classList.toggle("diff-only", toggle.checked);
      setQuery("diff", toggle.checked ? "1" : null);
    });
  }

  var metricSelect = document.getElementById("history-metric");
  var xSelect = document.getElementById("history-x");
  function drawHistory() {
    var key = metricSelect.value;
    var byTime = xSelect.value === "time";
    var series = data.runs.map(function (r) {
      var found = (data.histories[key] || []).filter(function (h) { return h.run_id === r.id; })[0];
      return {name: r.name, points: found ? found.points.map(function (p) { return [byTime ? p[2] : p[0], p[1]]; }) : []};
    });
    charts.lineChart(document.getElementById("history-chart"), series, {
      xLabel: byTime ? "seconds since the run started" : "step", yLabel: key,
      emptyText: "no history logged for " + key,
    });
    setQuery("metric", key);
    setQuery("x", byTime ? "time" : null);
  }

  function number(text) {
    if (text === null || text === undefined) { return null; }
    var v = Number(text);
    return text !== "" && isFinite(v) ? v : text;
  }

  var pcSelect = document.getElementById("parallel-metric");
  var pcAll = document.getElementById("parallel-all");
  function drawParallel() {
    var key = pcSelect.value;
    var params = data.params.filter(function (p) { return pcAll.checked || p.differs; });
    var metric = data.metrics.filter(function (m) { return m.key === key; })[0];
    var rows = data.runs.map(function (r, i) {
      var values = {};
      params.forEach(function (p) { values["params." + p.key] = number(p.values[i]); });
      var cell = metric ? metric.runs[i] : null;
      values["metrics." + key] = cell ? cell.last : null;
      return {name: r.name, values: values, href: "/runs/" + r.id};
    });
    var dims = params.map(function (p) { return {key: "params." + p.key, label: p.key}; });
    dims.push({key: "metrics." + key, label: key + " (last)"});
    charts.parallelCoordinates(document.getElementById("parallel-chart"), rows, dims, {
      colorBy: "metrics." + key,
      emptyText: "no parameter differs between these runs: tick 'all params' to draw them all",
    });
  }

  if (metricSelect) {
    metricSelect.addEventListener("change", drawHistory);
    xSelect.addEventListener("change", drawHistory);
    pcSelect.addEventListener("change", drawParallel);
    pcAll.addEventListener("change", drawParallel);
    drawHistory();
    drawParallel();
  }
})();
