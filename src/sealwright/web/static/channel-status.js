// Polls a verification run's status and reloads the page when it changes (a call answered,
// a phone confirmed, a reviewer decided). No secrets travel: only the status word.
(function () {
  "use strict";
  var el = document.getElementById("run-status");
  if (!el || el.dataset.status !== "pending") { return; }
  var url = "/s/channels/v/" + encodeURIComponent(el.dataset.verification) + "/status";
  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (body && body.status !== el.dataset.status) { window.location.reload(); return; }
        window.setTimeout(poll, 1500);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 1500);
})();
