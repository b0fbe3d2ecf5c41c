/*
 * The lineage explorer: a cytoscape.js graph (vendor/cytoscape, MIT) grown one level at a time.
 *
 * The first level comes with the page (<script id="lineage-data">, the JSON of /api/lineage);
 * expanding a node fetches /api/lineage?ref=<node>&direction=upstream|downstream|both&depth=1
 * &scope=<page scope> and merges the answer. Nodes are coloured by kind, runs bordered by
 * status; task runs sit inside their flow run (compound nodes, from the graph's groups).
 *
 * window.trackflowLineage = {cy, expand(nodeId, direction) -> Promise, select(nodeId), nodes()}
 * (nodes() lists the ids drawn: what tests and other tools read).
 */
(function () {
  "use strict";
  var KIND_COLOURS = {
    run: "#4e79a7", dataset: "#59a14f", model: "#f28e2b", model_version: "#e15759",
    artifact: "#9c755f", deployment: "#76b7b2", note: "#bab0ac",
  };
  var STATUS_COLOURS = {
    FINISHED: "#2ca02c", FAILED: "#d62728", CRASHED: "#d62728", RUNNING: "#1f77b4", KILLED: "#7f7f7f",
  };
  var container = document.getElementById("lineage-graph");
  var panel = document.getElementById("lineage-panel");
  var initial = JSON.parse(document.getElementById("lineage-data").textContent);
  var scope = container.getAttribute("data-scope") || "";
  var expanded = {};
  var known = {};

  var cy = window.cytoscape({
    container: container,
    wheelSensitivity: 0.3,
    minZoom: 0.1,
    maxZoom: 4,
    style: [
      {selector: "node", style: {
        "label": "data(label)", "background-color": "data(colour)", "color": "#222", "font-size": 10,
        "text-valign": "bottom", "text-margin-y": 4, "text-wrap": "ellipsis", "text-max-width": 140,
        "width": 26, "height": 26, "border-width": 3, "border-color": "data(border)",
      }},
      {selector: "node[kind = 'dataset']", style: {"shape": "barrel"}},
      {selector: "node[kind = 'model']", style: {"shape": "hexagon"}},
      {selector: "node[kind = 'model_version']", style: {"shape": "diamond"}},
      {selector: "node[kind = 'artifact']", style: {"shape": "round-rectangle"}},
      {selector: ":parent", style: {
        "background-opacity": 0.06, "text-valign": "top", "text-margin-y": -4, "shape": "round-rectangle",
        "padding": 14, "border-style": "dashed",
      }},
      {selector: "node.root", style: {"border-width": 5, "width": 34, "height": 34}},
      {selector: "node:selected", style: {"overlay-color": "#ffbf00", "overlay-opacity": 0.35, "overlay-padding": 6}},
      {selector: "edge", style: {
        "width": 1.5, "line-color": "#999", "target-arrow-color": "#999", "target-arrow-shape": "triangle",
        "curve-style": "bezier", "label": "data(relation)", "font-size": 8, "color": "#666",
        "text-background-color": "#fcfcfc", "text-background-opacity": 1, "text-rotation": "autorotate",
      }},
    ],
  });

  function nodeElement(node, groups) {
    var status = node.kind === "run" ? node.attributes.status : null;
    var data = {
      id: node.id, label: node.label, kind: node.kind, colour: KIND_COLOURS[node.kind] || "#bbb",
      border: STATUS_COLOURS[status] || "#ffffff", status: status || "", href: node.href || "",
      explore: node.explore, raw: node,
    };
    if (groups[node.id]) {
      data.parent = groups[node.id];
    }
    return {group: "nodes", data: data, classes: node.id === initial.root ? "root" : ""};
  }

  function merge(graph) {
    var added = [];
    var groups = graph.groups || {};
    // parents (flow runs holding task runs) first: cytoscape needs them to exist
    var ordered = graph.nodes.slice().sort(function (a, b) {
      var pa = Object.values(groups).indexOf(a.id) >= 0 ? 0 : 1;
      var pb = Object.values(groups).indexOf(b.id) >= 0 ? 0 : 1;
      return pa - pb;
    });
    ordered.forEach(function (node) {
      var existing = cy.getElementById(node.id);
      if (existing.length) {
        if (groups[node.id] && !existing.data("parent") && cy.getElementById(groups[node.id]).length) {
          existing.move({parent: groups[node.id]});
        }
        return;
      }
      var el = nodeElement(node, groups);
      if (el.data.parent && !cy.getElementById(el.data.parent).length) {
        delete el.data.parent;
      }
      known[node.id] = node;
      added.push(cy.add(el));
    });
    graph.edges.forEach(function (edge) {
      var id = edge.source + "|" + edge.relation + "|" + edge.target;
      if (!cy.getElementById(id).length && cy.getElementById(edge.source).length && cy.getElementById(edge.target).length) {
        added.push(cy.add({group: "edges", data: {id: id, source: edge.source, target: edge.target, relation: edge.relation}}));
      }
    });
    return added.length;
  }

  function layout() {
    var compound = cy.nodes(":parent").length > 0;
    var options = compound
      ? {name: "cose", animate: false, nodeDimensionsIncludeLabels: true, padding: 30, randomize: false}
      : {name: "breadthfirst", directed: true, spacingFactor: 1.2, padding: 30, animate: false};
    cy.layout(options).run();
    document.getElementById("lineage-count").textContent =
      cy.nodes().length + " nodes, " + cy.edges().length + " edges";
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"}[c];
    });
  }

  function showPanel(id) {
    var node = known[id];
    if (!node) { return; }
    var html = "<h3>" + escapeHtml(node.kind.replace("_", " ")) + ": " + escapeHtml(node.label) + "</h3>";
    html += "<p><code>" + escapeHtml(node.id) + "</code></p><dl>";
    Object.keys(node.attributes || {}).forEach(function (k) {
      var v = node.attributes[k];
      if (v !== null && v !== undefined && v !== "") {
        html += "<dt>" + escapeHtml(k) + "</dt><dd>" + escapeHtml(typeof v === "object" ? JSON.stringify(v) : v) + "</dd>";
      }
    });
    html += "</dl><p>";
    html += "<button type='button' data-expand='upstream'>expand upstream</button>";
    html += "<button type='button' data-expand='downstream'>expand downstream</button></p><p>";
    if (node.href) { html += "<a href='" + escapeHtml(node.href) + "'>open its page</a> · "; }
    html += "<a href='" + escapeHtml(node.explore) + (scope ? "&scope=" + scope : "") + "'>explore from here</a></p>";
    html += "<p class='muted' id='expand-status'>" + (expanded[id] ? "expanded: " + expanded[id].join(", ") : "") + "</p>";
    panel.innerHTML = html;
    panel.setAttribute("data-node", id);
    panel.querySelectorAll("button[data-expand]").forEach(function (button) {
      button.addEventListener("click", function () { expand(id, button.getAttribute("data-expand")); });
    });
  }

  function expand(id, direction) {
    var url = "/api/lineage?ref=" + encodeURIComponent(id) + "&direction=" + direction + "&depth=1" +
      (scope ? "&scope=" + scope : "");
    var status = document.getElementById("expand-status");
    if (status) { status.textContent = "expanding " + direction + "..."; }
    return fetch(url, {credentials: "same-origin"}).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) { throw new Error(body.error || response.statusText); }
        return body;
      });
    }).then(function (graph) {
      var added = merge(graph);
      expanded[id] = (expanded[id] || []).concat([direction]);
      if (added) { layout(); }
      panel.setAttribute("data-last-added", String(added));
      if (panel.getAttribute("data-node") === id) { showPanel(id); }
      var note = document.getElementById("expand-status");
      if (note) { note.textContent = added ? "added " + added + " nodes and edges " + direction : "nothing more " + direction; }
      return added;
    }).catch(function (error) {
      var note = document.getElementById("expand-status");
      if (note) { note.textContent = "could not expand: " + error.message; }
      throw error;
    });
  }

  cy.on("tap", "node", function (event) { showPanel(event.target.id()); });
  cy.on("dbltap", "node", function (event) { expand(event.target.id(), "both"); });
  document.getElementById("lineage-fit").addEventListener("click", function () { cy.fit(undefined, 30); });
  document.getElementById("lineage-scope").addEventListener("change", function () {
    document.getElementById("lineage-form").submit();
  });

  merge(initial);
  expanded[initial.root] = ["both"];
  layout();
  var root = cy.getElementById(initial.root);
  if (root.length) { root.select(); showPanel(initial.root); }

  window.trackflowLineage = {
    cy: cy,
    expand: expand,
    select: function (id) { cy.nodes().unselect(); cy.getElementById(id).select(); showPanel(id); },
    nodes: function () { return cy.nodes().map(function (n) { return n.id(); }); },
  };
})();
