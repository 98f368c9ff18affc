// The console's only script, served by the app (CSP script-src 'self'). Every page works without it: it adds live
// job progress (polling, no WebSockets), "select all N matching" and a confirmation before destructive actions.
(function () {
  "use strict";

  // Confirm on destructive actions: any submit button with data-confirm asks first.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-confirm]") : null;
    if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
      event.preventDefault();
    }
  });

  // Row checkboxes and "all N matching": ticking "all matching" ticks every row shown and submits the filter
  // instead of ids; unticking a row unticks "all matching".
  var all = document.getElementById("select-all-matching");
  var page = document.getElementById("select-page");
  var rows = Array.prototype.slice.call(document.querySelectorAll("input[data-row-select]"));
  function setRows(checked) { rows.forEach(function (row) { row.checked = checked; }); }
  var pageWrap = document.getElementById("select-page-wrap");
  if (pageWrap) { pageWrap.hidden = false; }
  if (page) {
    page.addEventListener("change", function () { setRows(page.checked); if (!page.checked && all) { all.checked = false; } });
  }
  if (all) {
    all.addEventListener("change", function () { if (all.checked) { setRows(true); if (page) { page.checked = true; } } });
  }
  rows.forEach(function (row) {
    row.addEventListener("change", function () {
      if (!row.checked) { if (all) { all.checked = false; } if (page) { page.checked = false; } }
    });
  });

  // Live progress of a replay job: fetch its JSON every 2 s and update the page until it finishes.
  var job = document.querySelector("[data-job-progress]");
  if (job) {
    var url = job.getAttribute("data-job-progress");
    var finished = job.getAttribute("data-job-finished") === "true";
    var set = function (name, value) {
      var element = document.querySelector("[data-job-field='" + name + "']");
      if (element) { element.textContent = value; }
    };
    var poll = function () {
      // A timeout of its own: a fetch that never settles would end the polling for good (the next poll is scheduled
      // only when this one settles), and the page would show a finished job as running.
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" }, signal: AbortSignal.timeout(10000) })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (status) {
          if (!status) { return; }
          var percent = Math.floor(status.percent);
          set("status", status.status);
          set("percent", percent + " %");
          ["total", "replayed", "alreadyReplayed", "notFound", "failed", "pending"].forEach(function (name) { set(name, String(status[name])); });
          var bar = document.querySelector("progress[data-job-field-bar]");
          if (bar) { bar.value = percent; }
          if (status.status !== "running") {
            finished = true;
            // The outcomes and the buttons that apply now (resume) are server-rendered: reload once at the end.
            window.location.reload();
          }
        })
        .catch(function () { /* the next poll tries again */ })
        .finally(function () { if (!finished) { window.setTimeout(poll, 2000); } });
    };
    if (!finished) { window.setTimeout(poll, 2000); }
  }
})();
