// cungdan committee page: sortable tables, live figures (polls /v1/position), tidy filters.
// No dependencies; the page works without it (figures as of its load, tables unsorted).
(function () {
  "use strict";
  var sorts = {}; // table id -> [column, direction]
  var POLL_MS = 1000;

  function key(cell) {
    var v = cell.getAttribute("data-v");
    return v === null ? cell.textContent.trim() : v;
  }

  function sortTable(table, col, dir) {
    var body = table.tBodies[0];
    var numeric = !!table.querySelector('button[data-col="' + col + '"][data-num]');
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[col]);
      var y = key(b.cells[col]);
      var c = numeric ? (parseFloat(x || "0") - parseFloat(y || "0")) : x.localeCompare(y, "vi");
      return dir * c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.setAttribute("aria-sort", i === col ? (dir > 0 ? "ascending" : "descending") : "none");
    });
  }

  function wire(root) {
    Array.prototype.forEach.call(root.querySelectorAll("table.sortable"), function (table) {
      table.tHead.addEventListener("click", function (ev) {
        var button = ev.target.closest("button[data-col]");
        if (!button) { return; }
        var col = parseInt(button.getAttribute("data-col"), 10);
        var last = sorts[table.id];
        var dir = last && last[0] === col ? -last[1] : (button.hasAttribute("data-num") ? -1 : 1);
        sorts[table.id] = [col, dir];
        sortTable(table, col, dir);
      });
      var kept = sorts[table.id];
      if (kept) { sortTable(table, kept[0], kept[1]); }
    });
  }

  function content() { return document.getElementById("content"); }

  function refresh() {
    return fetch(location.href, { headers: { Accept: "text/html" }, cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("content");
        var main = content();
        if (!fresh || !main) { return; }
        main.innerHTML = fresh.innerHTML;
        main.setAttribute("data-position", fresh.getAttribute("data-position"));
        wire(main);
      });
  }

  var busy = false;
  function poll() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch("/v1/position", { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        var shown = parseInt(content().getAttribute("data-position") || "0", 10);
        if (body && body.position > shown) { return refresh(); }
      })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { busy = false; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    wire(document);
    var form = document.querySelector("form.filters");
    if (form) {
      form.addEventListener("submit", function () {
        Array.prototype.forEach.call(form.elements, function (el) {
          if (el.name && !el.value) { el.disabled = true; } // no empty parameters in the URL
        });
      });
    }
    setInterval(poll, POLL_MS);
  });
})();
