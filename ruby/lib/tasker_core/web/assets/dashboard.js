// Tasker Core dashboard: refreshes the task page's live part (#live) by
// polling its HTML every data-poll-ms milliseconds. No build step, no library.
(function () {
  "use strict";
  var body = document.body;
  var live = document.getElementById("live");
  var every = parseInt(body.getAttribute("data-poll-ms"), 10) || 0;
  if (!live || every <= 0) { return; }
  var url = live.getAttribute("data-live-url");

  // Someone typing a reason into a form of the live part keeps it as it is.
  function busy() {
    var active = document.activeElement;
    if (active && live.contains(active) && /^(INPUT|TEXTAREA|SELECT|BUTTON)$/.test(active.tagName)) { return true; }
    var fields = live.querySelectorAll("input[type=text], input:not([type]), textarea");
    for (var i = 0; i < fields.length; i++) { if (fields[i].value) { return true; } }
    return false;
  }

  function refresh() {
    if (busy()) { return schedule(); }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (res) { if (!res.ok) { throw new Error(res.status); } return res.text(); })
      .then(function (html) {
        if (!busy()) {
          live.innerHTML = html;
          live.setAttribute("data-refreshed-at", String(Date.now()));
        }
      })
      .catch(function () { /* a failed poll leaves the page as it was; the next one tries again */ })
      .then(schedule);
  }

  function schedule() { window.setTimeout(refresh, every); }
  schedule();
}());
