// The jobs page (templates/researcher/jobs.html): rows kept current from server-sent events.
// The server ends each stream after a few minutes; EventSource reconnects by itself.
"use strict";
(function () {
  var table = document.getElementById("jobs");
  if (!table || !window.EventSource) { return; }
  var body = table.tBodies[0];
  var status = document.getElementById("live-status");
  var empty = document.getElementById("no-jobs");

  function text(selector, fallback) {
    var item = document.querySelector("#job-texts " + selector);
    return item ? item.textContent : fallback;
  }
  function clock(seconds) {
    if (seconds === null || seconds === undefined) { return "\u2013"; }
    var whole = Math.max(0, Math.round(seconds));
    var h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return h ? h + ":" + two(m) + ":" + two(s) : m + ":" + two(s);
  }
  function cell(row, className) {
    var td = document.createElement("td");
    td.className = className;
    row.appendChild(td);
    return td;
  }
  function newRow(job) {
    var row = document.createElement("tr");
    row.id = "job-" + job.id;
    cell(row, "mono code").textContent = job.code;
    cell(row, "length").textContent = clock(job.duration_s);
    cell(row, "state");
    var td = cell(row, "");
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.setAttribute("aria-label", text('[data-text="progress-of"]', "{code}").replace("{code}", job.code));
    var percent = document.createElement("span");
    percent.className = "percent";
    td.appendChild(bar);
    td.appendChild(document.createTextNode(" "));
    td.appendChild(percent);
    cell(row, "eta");
    return row;
  }
  function update(row, job) {
    var percent = Math.floor(job.progress * 100);
    row.setAttribute("data-state", job.state);
    row.querySelector(".state").textContent = text('[data-state="' + job.state + '"]', job.state);
    var bar = row.querySelector("progress");
    bar.value = percent;
    bar.textContent = percent + " %";
    row.querySelector(".percent").textContent = percent + " %";
    row.querySelector(".eta").textContent = job.state === "running" ? clock(job.eta_s) : "\u2013";
  }
  function show(jobs) {
    var seen = {};
    jobs.forEach(function (job, index) {
      var row = document.getElementById("job-" + job.id) || newRow(job);
      seen[row.id] = true;
      update(row, job);
      if (body.rows[index] !== row) { body.insertBefore(row, body.rows[index] || null); }
    });
    Array.prototype.slice.call(body.rows).forEach(function (row) {
      if (!seen[row.id]) { body.removeChild(row); }
    });
    empty.hidden = jobs.length > 0;
  }

  var source = new EventSource(table.getAttribute("data-events"));
  source.addEventListener("open", function () {
    status.textContent = text('[data-text="live"]', "");
  });
  source.addEventListener("jobs", function (event) {
    show(JSON.parse(event.data).jobs);
  });
  source.addEventListener("error", function () {
    if (source.readyState === EventSource.CLOSED) {
      status.textContent = text('[data-text="stopped"]', "");
    }
  });
}());
