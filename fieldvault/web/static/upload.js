// The upload page (templates/researcher/upload.html): drag and drop, then XMLHttpRequest with
// upload progress events. Without this script the form posts itself (the endpoint redirects).
"use strict";
(function () {
  var form = document.getElementById("upload");
  if (!form) { return; }
  var input = document.getElementById("files");
  var zone = document.getElementById("dropzone");
  var list = document.getElementById("chosen-files");
  var area = document.getElementById("progress-area");
  var bar = document.getElementById("progress");
  var barText = document.getElementById("progress-text");
  var status = document.getElementById("upload-status");
  var send = document.getElementById("send");
  var picked = [];

  function text(key) {
    var item = document.querySelector('#upload-texts [data-text="' + key + '"]');
    return item ? item.textContent : key;
  }
  function refusal(word) {
    var item = document.querySelector('#upload-texts [data-error="' + word + '"]') ||
      document.querySelector('#upload-texts [data-error="refused"]');
    return item.textContent;
  }
  function size(n) {
    var units = [["GiB", 1073741824], ["MiB", 1048576], ["KiB", 1024]];
    for (var i = 0; i < units.length; i++) {
      if (n >= units[i][1]) { return (n / units[i][1]).toFixed(1) + " " + units[i][0]; }
    }
    return n + " B";
  }
  function show() {
    list.textContent = "";
    picked.forEach(function (file, index) {
      var li = document.createElement("li");
      li.textContent = file.name + " (" + size(file.size) + ") ";
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "secondary";
      remove.textContent = text("remove");
      remove.setAttribute("aria-label", text("remove") + ": " + file.name);
      remove.addEventListener("click", function () { picked.splice(index, 1); show(); });
      li.appendChild(remove);
      list.appendChild(li);
    });
  }
  function add(files) {
    for (var i = 0; i < files.length; i++) { picked.push(files[i]); }
    show();
  }
  function say(message, kind, detail) {
    status.textContent = "";
    var p = document.createElement("p");
    p.className = kind;
    p.textContent = message;
    status.appendChild(p);
    if (detail) {
      var d = document.createElement("p");
      d.className = "muted";
      d.textContent = text("details") + " " + detail;
      status.appendChild(d);
    }
    return p;
  }
  function progress(percent) {
    bar.value = percent;
    bar.textContent = percent + " %";
    barText.textContent = percent + " %";
  }

  input.required = false; // files may come by drag and drop; checked on submit
  input.addEventListener("change", function () { add(input.files); input.value = ""; });
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) {
      event.preventDefault();
      zone.classList.add("over");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function () { zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files) { add(event.dataTransfer.files); }
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!picked.length) { say(text("none"), "error"); return; }
    var data = new FormData();
    var language = form.elements.language.value;
    if (language) { data.append("language", language); } // before the files, as the endpoint asks
    picked.forEach(function (file) { data.append("file", file, file.name); });
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRF-Token", form.elements.csrf.value);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) { progress(Math.floor((e.loaded * 100) / e.total)); }
    });
    xhr.upload.addEventListener("load", function () { progress(100); });
    xhr.addEventListener("load", function () {
      send.disabled = false;
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (ignored) { body = null; }
      if (xhr.status === 201) {
        progress(100);
        var p = say(text("done"), "ok");
        var a = document.createElement("a");
        a.href = form.getAttribute("data-jobs");
        a.textContent = text("jobs");
        p.appendChild(document.createTextNode(" "));
        p.appendChild(a);
        picked = [];
        show();
        return;
      }
      say(refusal(body && body.error ? body.error : "refused"), "error", body && body.message);
    });
    xhr.addEventListener("error", function () { send.disabled = false; say(text("offline"), "error"); });
    area.hidden = false;
    progress(0);
    send.disabled = true;
    say(text("sending"), "muted");
    xhr.send(data);
  });
}());
