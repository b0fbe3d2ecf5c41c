// trackflow ui: run page (metric history charts, artifact previews).
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("run-data").textContent);

  function historyTable(element, key, history) {
    var table = document.createElement("table");
    table.className = "kv";
    history.forEach(function (point) {
      var row = table.insertRow();
      row.insertCell().textContent = "step " + point.step;
      row.insertCell().textContent = point.value === null ? "NaN" : String(point.value);
    });
    element.appendChild(table);
    element.style.height = "auto";
  }

  document.querySelectorAll(".metric-chart").forEach(function (element) {
    var key = element.dataset.key;
    var history = data.histories[key] || [];
    var points = history.map(function (p) { return [p.step, p.value]; });
    if (window.trackflowCharts && window.trackflowCharts.lineChart) {
      window.trackflowCharts.lineChart(element, [{ name: key, points: points }],
        { xLabel: "step", yLabel: key, height: 220 });
    } else {
      historyTable(element, key, history);
    }
  });

  var target = document.getElementById("artifact-preview");
  function show(title, node) {
    target.textContent = "";
    var heading = document.createElement("h3");
    heading.textContent = title;
    target.appendChild(heading);
    target.appendChild(node);
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.preview-button");
    if (!button) return;
    var path = button.dataset.path;
    var url = "/api/runs/" + encodeURIComponent(data.id) + "/artifacts/preview?path=" + encodeURIComponent(path);
    fetch(url, { credentials: "same-origin" }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.error || ("HTTP " + response.status));
        return body;
      });
    }).then(function (body) {
      var node;
      if (body.kind === "image") {
        node = document.createElement("img");
        node.src = body.url;
        node.alt = path;
        var wrap = document.createElement("div");
        wrap.className = "preview";
        wrap.appendChild(node);
        node = wrap;
      } else if (body.kind === "csv") {
        node = document.createElement("div");
        node.className = "table-wrap";
        var table = document.createElement("table");
        table.className = "data";
        var head = table.createTHead().insertRow();
        body.header.forEach(function (h) { var th = document.createElement("th"); th.textContent = h; head.appendChild(th); });
        var tbody = table.createTBody();
        body.rows.forEach(function (r) {
          var row = tbody.insertRow();
          r.forEach(function (v) { row.insertCell().textContent = v; });
        });
        node.appendChild(table);
      } else if (body.kind === "none") {
        node = document.createElement("p");
        node.className = "muted";
        node.textContent = "No preview for this file: download it.";
      } else {
        node = document.createElement("div");
        node.className = "preview";
        node.textContent = body.text;
      }
      show(path + (body.truncated ? " (first part)" : ""), node);
    }).catch(function (error) {
      var p = document.createElement("div");
      p.className = "error-box";
      p.textContent = String(error.message || error);
      show(path, p);
    });
  });
})();
