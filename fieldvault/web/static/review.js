// The review editor (templates/researcher/review.html): the player, shortcuts and autosave.
// The segments are rendered by the server; this script only adds one listener per kind of
// event (delegation), so a 60-minute transcript is interactive as soon as it is parsed.
(function () {
  "use strict";
  var root = document.getElementById("editor");
  if (!root) { return; }
  var base = root.getAttribute("data-base");
  var version = root.getAttribute("data-version") || "";
  var csrfMeta = document.querySelector('meta[name="fv-csrf"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";
  var player = document.getElementById("player");
  var list = document.getElementById("segments");
  var state = document.getElementById("save-state");
  var rewind = document.getElementById("rewind");
  var speed = document.getElementById("speed");
  var track = document.getElementById("track");
  var texts = {
    saving: "…",
    saved: "✓",
    conflict: "✗"
  };
  var conflicted = false;

  // Texts come from the page's language: the server writes them into data- attributes.
  var words = document.getElementById("review-texts");
  function word(name) {
    return (words && words.getAttribute("data-" + name)) || texts[name] || name;
  }

  // ---- the player ------------------------------------------------------------------------
  var segments = list ? list.querySelectorAll("li.segment") : [];
  var starts = [];
  for (var i = 0; i < segments.length; i++) {
    starts.push(parseFloat(segments[i].getAttribute("data-start")) || 0);
  }
  var playing = null;

  function stored(key, fallback) {
    try { return window.localStorage.getItem(key) || fallback; } catch (e) { return fallback; }
  }
  function store(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { /* private mode: not kept */ }
  }
  if (rewind) {
    rewind.value = stored("fv-rewind", "2");
    rewind.addEventListener("change", function () { store("fv-rewind", rewind.value); });
  }
  if (speed && player) {
    speed.value = stored("fv-speed", "1");
    player.playbackRate = parseFloat(speed.value) || 1;
    speed.addEventListener("change", function () {
      player.playbackRate = parseFloat(speed.value) || 1;
      store("fv-speed", speed.value);
    });
  }
  if (track && player) {
    track.addEventListener("change", function () {
      var at = player.currentTime;
      player.src = track.value;
      player.currentTime = at;
    });
  }

  // Resuming after a pause (any play control: the button, Esc, K or the player's own) goes
  // back a little, so the last words are heard again (2-5 s, chosen above); playing from a
  // segment starts exactly at it.
  var fromSegment = false;
  if (player) {
    player.addEventListener("play", function () {
      if (fromSegment) { fromSegment = false; return; }
      var back = rewind ? parseFloat(rewind.value) || 0 : 0;
      if (player.currentTime > 0) { player.currentTime = Math.max(0, player.currentTime - back); }
    });
  }
  function start() {
    var started = player.play();
    if (started && started.catch) { started.catch(function () { /* blocked: the time is set */ }); }
  }
  function playFrom(seconds) {
    if (!player) { return; }
    fromSegment = player.paused;
    player.currentTime = seconds;
    start();
  }
  function toggle() {
    if (!player) { return; }
    if (player.paused) { start(); } else { player.pause(); }
  }
  function skip(by) {
    if (player) { player.currentTime = Math.max(0, player.currentTime + by); }
  }
  function faster(step) {
    if (!speed || !player) { return; }
    var index = speed.selectedIndex + step;
    if (index < 0 || index >= speed.options.length) { return; }
    speed.selectedIndex = index;
    speed.dispatchEvent(new Event("change"));
  }
  function segmentAt(seconds) {
    var lo = 0, hi = starts.length - 1, found = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (starts[mid] <= seconds) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found;
  }
  if (player) {
    player.addEventListener("timeupdate", function () {
      var index = segmentAt(player.currentTime);
      var now = index >= 0 ? segments[index] : null;
      if (now === playing) { return; }
      if (playing) { playing.classList.remove("playing"); }
      if (now) { now.classList.add("playing"); }
      playing = now;
    });
  }
  var playButton = document.getElementById("play");
  if (playButton) { playButton.addEventListener("click", toggle); }

  if (list) {
    list.addEventListener("click", function (event) {
      var target = event.target;
      if (target.closest("form")) { return; }  // the item forms have their own buttons
      var li = target.closest("li.segment");
      if (li) { playFrom(parseFloat(li.getAttribute("data-start")) || 0); }
    });
  }

  function inField(element) {
    var tag = element && element.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (element && element.isContentEditable);
  }
  function moveFocus(step) {
    var current = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest("li.segment") : null;
    var index = current ? Array.prototype.indexOf.call(segments, current) + step : 0;
    if (index < 0 || index >= segments.length) { return; }
    segments[index].querySelector("button.time").focus();
  }
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { event.preventDefault(); toggle(); return; }
    if (event.ctrlKey || event.metaKey || event.altKey || inField(event.target)) { return; }
    var handled = true;
    switch (event.key) {
      case "k": case "K": toggle(); break;
      case "j": case "J": skip(-5); break;
      case "l": case "L": skip(5); break;
      case "[": faster(-1); break;
      case "]": faster(1); break;
      case "ArrowDown": moveFocus(1); break;
      case "ArrowUp": moveFocus(-1); break;
      default: handled = false;
    }
    if (handled) { event.preventDefault(); }
  });

  // ---- autosave ----------------------------------------------------------------------------
  // One save at a time, in order: each answer carries the version the next one must name.
  var queue = Promise.resolve();
  var timers = {};

  function show(kind, message) {
    if (!state) { return; }
    state.className = "save-state " + kind;
    state.textContent = message || word(kind);
  }
  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, data: data };
      });
    });
  }
  function enqueue(job) {
    queue = queue.then(job).catch(function () { show("failed", word("failed")); });
    return queue;
  }
  function conflict(message) {
    conflicted = true;
    show("conflict", word("conflict"));
    root.classList.add("conflicted");
  }

  function saveItem(form, action) {
    if (conflicted) { return; }
    var input = form.querySelector("input.edit");
    show("saving", word("saving"));
    enqueue(function () {
      var body = { action: action, version: version };
      if (action === "edit") { body.text = input.value; }
      return post(form.getAttribute("action"), body).then(function (answer) {
        if (answer.status === 409) { conflict(answer.data.error); return; }
        if (answer.status !== 200) { show("failed", answer.data.error || word("failed")); return; }
        version = answer.data.version;
        root.setAttribute("data-version", version);
        var status = form.querySelector(".status");
        status.setAttribute("data-status", answer.data.status);
        status.textContent = word("status-" + answer.data.status);
        var line = document.querySelector("#seg-" + answer.data.segment + " .line");
        if (line) { line.textContent = answer.data.line; }
        show("saved", word("saved"));
      });
    });
  }
  function saveSpeaker(form) {
    if (conflicted) { return; }
    show("saving", word("saving"));
    enqueue(function () {
      var body = {
        role: form.querySelector("select[name=role]").value,
        display: form.querySelector("input[name=display]").value
      };
      return post(form.getAttribute("action"), body).then(function (answer) {
        if (answer.status !== 200) { show("failed", answer.data.error || word("failed")); return; }
        var label = answer.data.label;
        var who = document.querySelectorAll('.who[data-speaker="' + label + '"]');
        for (var n = 0; n < who.length; n++) { who[n].textContent = answer.data.display; }
        show("saved", word("saved"));
      });
    });
  }
  function later(key, fn) {
    clearTimeout(timers[key]);
    timers[key] = setTimeout(fn, 800);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.classList.contains("item")) {
      event.preventDefault();
      var action = event.submitter ? event.submitter.value : "edit";
      clearTimeout(timers[form.id]);
      saveItem(form, action);
    } else if (form.classList.contains("speaker-form")) {
      event.preventDefault();
      clearTimeout(timers[form.getAttribute("data-label")]);
      saveSpeaker(form);
    }
  });
  document.addEventListener("input", function (event) {
    var form = event.target.form;
    if (!form) { return; }
    if (form.classList.contains("item") && event.target.classList.contains("edit")) {
      show("pending", word("pending"));
      later(form.id, function () {
        if (event.target.value.trim()) { saveItem(form, "edit"); }
      });
    } else if (form.classList.contains("speaker-form")) {
      show("pending", word("pending"));
      later(form.getAttribute("data-label"), function () { saveSpeaker(form); });
    }
  });
  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (form && form.classList.contains("speaker-form") && event.target.tagName === "SELECT") {
      clearTimeout(timers[form.getAttribute("data-label")]);
      saveSpeaker(form);
    }
  });
  // Every listener is attached: the editor is interactive. bench/web_researcher.py measures
  // time to interactive up to this mark (navigation start → 'review-ready').
  if (window.performance && performance.mark) { performance.mark("review-ready"); }
})();
