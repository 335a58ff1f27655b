// Follows the phone call on the phone-callback page: updates the "Call:" line from the run's
// status (queued, ringing, in-progress, ...). channel-status.js reloads the page when the
// run itself is passed or failed. No secrets travel: only the call's progress word.
(function () {
  "use strict";
  var run = document.getElementById("run-status");
  var line = document.getElementById("call-progress");
  if (!run || !line || run.dataset.status !== "pending") { return; }
  var url = "/s/channels/v/" + encodeURIComponent(run.dataset.verification) + "/status";
  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        var call = body && body.display ? body.display.call : null;
        if (call && call !== line.dataset.call) {
          line.dataset.call = call;
          line.querySelector("strong").textContent = call;
        }
        if (!body || body.status === "pending") { window.setTimeout(poll, 1000); }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 1000);
})();
