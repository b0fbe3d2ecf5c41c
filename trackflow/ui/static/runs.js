// trackflow ui: runs table behaviour (selection -> compare link, column picker, task-run rows, filter errors).
(function () {
  "use strict";
  var state = JSON.parse(document.getElementById("table-state").textContent);

  var filter = document.getElementById("filter");
  if (filter && filter.dataset.errorPosition !== undefined) {
    var pos = parseInt(filter.dataset.errorPosition, 10);
    filter.focus();
    filter.setSelectionRange(pos, Math.min(filter.value.length, pos + 1));
  }

  var compare = document.getElementById("compare-link");
  function selected() {
    return Array.prototype.map.call(document.querySelectorAll("input.select-run:checked"), function (box) {
      return box.value;
    });
  }
  function updateCompare() {
    var ids = selected();
    var ok = ids.length >= 2 && ids.length <= 20;
    compare.classList.toggle("disabled", !ok);
    compare.href = "/compare?runs=" + ids.join(",");
    compare.textContent = ids.length ? "Compare " + ids.length + " selected" : "Compare selected";
    compare.title = ok ? "" : "select 2 to 20 runs";
  }
  document.addEventListener("change", function (event) {
    if (event.target.classList.contains("select-run")) updateCompare();
  });
  var all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll("tr.run-row input.select-run").forEach(function (box) { box.checked = all.checked; });
      updateCompare();
    });
  }

  var columnsForm = document.getElementById("columns-form");
  if (columnsForm) {
    columnsForm.addEventListener("submit", function () {
      var specs = Array.prototype.map.call(columnsForm.querySelectorAll("input.column-choice:checked"), function (b) {
        return b.value;
      });
      document.getElementById("columns-value").value = specs.join(",");
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.expand");
    if (!button) return;
    var runId = button.dataset.runId;
    var open = button.getAttribute("aria-expanded") === "true";
    var rows = document.querySelectorAll("tr.child-of-" + runId);
    if (rows.length) {
      rows.forEach(function (row) { row.hidden = open; });
      button.setAttribute("aria-expanded", open ? "false" : "true");
      button.textContent = (open ? "▸ " : "▾ ") + button.textContent.slice(2);
      return;
    }
    var url = "/runs/" + encodeURIComponent(runId) + "/rows?columns=" + encodeURIComponent(state.columns);
    fetch(url, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) throw new Error("could not load task runs: HTTP " + response.status);
      return response.text();
    }).then(function (html) {
      button.closest("tr").insertAdjacentHTML("afterend", html);
      button.setAttribute("aria-expanded", "true");
      button.textContent = "▾ " + button.textContent.slice(2);
    }).catch(function (error) {
      button.title = String(error);
    });
  });
  // The total is counted after the page is shown (counting scans every matching run).
  var total = document.getElementById("total");
  if (total) {
    fetch(total.dataset.url, { credentials: "same-origin" }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (body) {
      total.textContent = body ? body.total.toLocaleString("en-US") : "?";
    }).catch(function () { total.textContent = "?"; });
  }
  updateCompare();
})();
