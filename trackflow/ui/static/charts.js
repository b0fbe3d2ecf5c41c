/*
 * trackflow ui charts: a thin layer over uPlot (vendor/uplot, MIT) plus a small SVG
 * parallel-coordinates chart (no maintained small library offers one without d3).
 *
 * Load order in a page:
 *   <link rel="stylesheet" href="/static/vendor/uplot/uPlot.min.css">
 *   <script src="/static/vendor/uplot/uPlot.iife.min.js"></script>
 *   <script src="/static/charts.js"></script>
 *
 * API (window.trackflowCharts):
 *
 *   lineChart(element, series, options) -> {plot, destroy()}
 *     element  a block element (its width is used; height from options.height, default 300)
 *     series   [{name: "run a", points: [[x, y], ...]}, ...]   one line per entry; x need not
 *              be shared between series (they are aligned, gaps are spanned)
 *     options  {xLabel, yLabel, height, xTime: bool (x in epoch seconds -> time axis),
 *              title, xIntegers: bool (x ticks on whole numbers only, e.g. versions),
 *              xCategories: [label, ...] (x is an index into these labels), emptyText}
 *
 *   parallelCoordinates(element, rows, dimensions, options) -> {svg, destroy()}
 *     rows        [{name: "run a", values: {dimKey: number | string | null}, href?: url}, ...]
 *     dimensions  [{key, label?}, ...] or ["key", ...]; a dimension whose values are not all
 *                 numbers is drawn as categories (evenly spaced, sorted)
 *     options     {colorBy: dimKey (lines coloured by this numeric dimension, e.g. the
 *                 chosen metric), height (default 320)}
 *
 *   palette(i) -> css colour of the i-th series (the same in every chart)
 *
 * The data drawn is kept readable from the DOM: the element gets
 * data-chart="line" | "parallel" and data-points = JSON of what was drawn
 * (line: [{name, points}], parallel: {dimensions, rows}); an SVG path per parallel row carries
 * data-name. Tests and other tools can read them without knowing the drawing library.
 */
(function () {
  "use strict";

  var COLORS = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39",
    "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363",
  ];

  function palette(i) {
    return COLORS[((i % COLORS.length) + COLORS.length) % COLORS.length];
  }

  function clear(element) {
    while (element.firstChild) {
      element.removeChild(element.firstChild);
    }
  }

  function emptyNote(element, text) {
    var p = document.createElement("p");
    p.className = "chart-empty";
    p.textContent = text;
    element.appendChild(p);
  }

  function numeric(v) {
    return typeof v === "number" && isFinite(v);
  }

  function fmt(v) {
    if (v === null || v === undefined) {
      return "";
    }
    if (typeof v !== "number") {
      return String(v);
    }
    if (Number.isInteger(v)) {
      return String(v);
    }
    var a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : String(Math.round(v * 1e4) / 1e4);
  }

  /* Align series of [x, y] points on the union of their x values (uPlot wants one x array). */
  function align(series) {
    var xs = {};
    series.forEach(function (s) {
      (s.points || []).forEach(function (p) {
        if (numeric(p[0])) {
          xs[p[0]] = true;
        }
      });
    });
    var xValues = Object.keys(xs).map(Number).sort(function (a, b) { return a - b; });
    var index = {};
    xValues.forEach(function (x, i) { index[x] = i; });
    var data = [xValues];
    series.forEach(function (s) {
      var ys = new Array(xValues.length).fill(null);
      (s.points || []).forEach(function (p) {
        if (numeric(p[0]) && numeric(p[1])) {
          ys[index[p[0]]] = p[1];
        }
      });
      data.push(ys);
    });
    return data;
  }

  function lineChart(element, series, options) {
    options = options || {};
    series = (series || []).map(function (s) {
      return {name: String(s.name), points: (s.points || []).map(function (p) { return [p[0], p[1]]; })};
    });
    if (element._trackflowChart) {
      element._trackflowChart.destroy();
    }
    clear(element);
    element.setAttribute("data-chart", "line");
    element.setAttribute("data-points", JSON.stringify(series));
    var total = series.reduce(function (n, s) { return n + s.points.length; }, 0);
    if (total === 0) {
      emptyNote(element, options.emptyText || "no data points to chart");
      return {plot: null, destroy: function () { clear(element); }};
    }
    var cats = options.xCategories || null;
    var opts = {
      title: options.title || "",
      width: Math.max(element.clientWidth || 0, 320),
      height: options.height || 300,
      scales: {x: {time: !!options.xTime}},
      legend: {live: true},
      cursor: {drag: {x: true, y: false}},
      axes: [
        {
          label: options.xLabel || "",
          incrs: options.xIntegers || cats ? [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 10000, 100000] : undefined,
          values: cats ? function (u, splits) {
            return splits.map(function (v) { return Number.isInteger(v) && cats[v] !== undefined ? cats[v] : ""; });
          } : (options.xIntegers ? function (u, splits) {
            return splits.map(function (v) { return Number.isInteger(v) ? String(v) : ""; });
          } : undefined),
        },
        {label: options.yLabel || "", size: 70},
      ],
      series: [{label: options.xLabel || "x", value: cats ? function (u, v) {
        return v === null || cats[v] === undefined ? "" : cats[v];
      } : undefined}].concat(series.map(function (s, i) {
        return {
          label: s.name,
          stroke: palette(i),
          width: 2,
          spanGaps: true,
          points: {show: s.points.length <= 60},
          value: function (u, v) { return fmt(v); },
        };
      })),
    };
    var plot = new window.uPlot(opts, align(series), element);
    var observer = null;
    if (window.ResizeObserver) {
      observer = new ResizeObserver(function () {
        var w = Math.max(element.clientWidth || 0, 320);
        if (Math.abs(w - plot.width) > 4) {
          plot.setSize({width: w, height: opts.height});
        }
      });
      observer.observe(element);
    }
    var handle = {
      plot: plot,
      destroy: function () {
        if (observer) {
          observer.disconnect();
        }
        plot.destroy();
        element._trackflowChart = null;
      },
    };
    element._trackflowChart = handle;
    return handle;
  }

  var SVG = "http://www.w3.org/2000/svg";

  function svgEl(name, attrs) {
    var el = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    return el;
  }

  /* A scale for one dimension: maps a value to [0, 1] (0 = bottom). */
  function dimensionScale(rows, key) {
    var values = rows.map(function (r) { return r.values ? r.values[key] : undefined; })
      .filter(function (v) { return v !== null && v !== undefined && v !== ""; });
    var allNumbers = values.length > 0 && values.every(numeric);
    if (allNumbers) {
      var lo = Math.min.apply(null, values);
      var hi = Math.max.apply(null, values);
      return {
        kind: "number",
        ticks: lo === hi ? [lo] : [lo, (lo + hi) / 2, hi],
        pos: function (v) {
          if (!numeric(v)) { return null; }
          return hi === lo ? 0.5 : (v - lo) / (hi - lo);
        },
      };
    }
    var cats = [];
    values.forEach(function (v) {
      var s = String(v);
      if (cats.indexOf(s) < 0) { cats.push(s); }
    });
    cats.sort();
    return {
      kind: "category",
      ticks: cats,
      pos: function (v) {
        if (v === null || v === undefined || v === "") { return null; }
        var i = cats.indexOf(String(v));
        if (i < 0) { return null; }
        return cats.length === 1 ? 0.5 : i / (cats.length - 1);
      },
    };
  }

  function colourScale(rows, key) {
    if (!key) { return null; }
    var values = rows.map(function (r) { return r.values ? r.values[key] : undefined; }).filter(numeric);
    if (!values.length) { return null; }
    var lo = Math.min.apply(null, values);
    var hi = Math.max.apply(null, values);
    return function (v) {
      if (!numeric(v)) { return "#999"; }
      var t = hi === lo ? 0.5 : (v - lo) / (hi - lo);
      // blue (low) -> orange/red (high)
      var hue = 220 - 200 * t;
      return "hsl(" + Math.round(hue) + ",70%,45%)";
    };
  }

  function parallelCoordinates(element, rows, dimensions, options) {
    options = options || {};
    rows = rows || [];
    dimensions = (dimensions || []).map(function (d) {
      return typeof d === "string" ? {key: d, label: d} : {key: d.key, label: d.label || d.key};
    });
    clear(element);
    element.setAttribute("data-chart", "parallel");
    element.setAttribute("data-points", JSON.stringify({
      dimensions: dimensions.map(function (d) { return d.key; }),
      rows: rows.map(function (r) { return {name: r.name, values: r.values || {}}; }),
    }));
    if (!rows.length || dimensions.length < 2) {
      emptyNote(element, options.emptyText || "need at least two dimensions and one run to draw parallel coordinates");
      return {svg: null, destroy: function () { clear(element); }};
    }
    var width = Math.max(element.clientWidth || 0, 480);
    var height = options.height || 320;
    var margin = {top: 34, bottom: 24, left: 60, right: 60};
    var innerH = height - margin.top - margin.bottom;
    var step = (width - margin.left - margin.right) / (dimensions.length - 1);
    var svg = svgEl("svg", {width: width, height: height, "class": "parallel-coordinates",
      viewBox: "0 0 " + width + " " + height, role: "img"});
    var scales = dimensions.map(function (d) { return dimensionScale(rows, d.key); });
    var colour = colourScale(rows, options.colorBy);
    function x(i) { return margin.left + i * step; }
    function y(t) { return margin.top + (1 - t) * innerH; }

    var lines = svgEl("g", {"class": "pc-lines"});
    rows.forEach(function (r, ri) {
      var d = "";
      var pen = false;
      dimensions.forEach(function (dim, i) {
        var t = scales[i].pos(r.values ? r.values[dim.key] : undefined);
        if (t === null) { pen = false; return; }
        d += (pen ? " L " : " M ") + x(i).toFixed(1) + " " + y(t).toFixed(1);
        pen = true;
      });
      var stroke = colour ? colour(r.values ? r.values[options.colorBy] : null) : palette(ri);
      var path = svgEl("path", {d: d.trim(), fill: "none", stroke: stroke, "stroke-width": 2,
        "stroke-opacity": 0.8, "data-name": r.name, "class": "pc-line"});
      var title = svgEl("title");
      title.textContent = r.name + "\n" + dimensions.map(function (dim) {
        return dim.label + ": " + fmt(r.values ? r.values[dim.key] : null);
      }).join("\n");
      path.appendChild(title);
      path.addEventListener("mouseenter", function () { path.setAttribute("stroke-width", 4); });
      path.addEventListener("mouseleave", function () { path.setAttribute("stroke-width", 2); });
      if (r.href) {
        var a = svgEl("a", {href: r.href});
        a.appendChild(path);
        lines.appendChild(a);
      } else {
        lines.appendChild(path);
      }
    });

    var axes = svgEl("g", {"class": "pc-axes"});
    dimensions.forEach(function (dim, i) {
      var g = svgEl("g", {"class": "pc-axis", "data-key": dim.key});
      g.appendChild(svgEl("line", {x1: x(i), x2: x(i), y1: y(0), y2: y(1), stroke: "#444", "stroke-width": 1}));
      var label = svgEl("text", {x: x(i), y: margin.top - 14, "text-anchor": "middle", "font-size": 12,
        "font-weight": dim.key === options.colorBy ? "bold" : "normal"});
      label.textContent = dim.label;
      g.appendChild(label);
      scales[i].ticks.forEach(function (v) {
        var t = scales[i].pos(v);
        g.appendChild(svgEl("line", {x1: x(i) - 4, x2: x(i), y1: y(t), y2: y(t), stroke: "#444"}));
        var tick = svgEl("text", {x: x(i) - 6, y: y(t) + 4, "text-anchor": "end", "font-size": 10, fill: "#555"});
        tick.textContent = fmt(v).slice(0, 14);
        g.appendChild(tick);
      });
      axes.appendChild(g);
    });
    svg.appendChild(lines);
    svg.appendChild(axes);
    element.appendChild(svg);
    return {svg: svg, destroy: function () { clear(element); }};
  }

  window.trackflowCharts = {
    lineChart: lineChart,
    parallelCoordinates: parallelCoordinates,
    palette: palette,
    format: fmt,
  };
})();
