// The video channel's capture (C3): camera + MediaRecorder, the actions shown one after
// another, upload in chunks, SHA-256(video || nonce) with WebCrypto, finish, then the status
// poll (channel-status.js) takes over. Nothing here is secret: the nonce binds the capture.
(function () {
  "use strict";
  var root = document.getElementById("video-capture");
  if (!root) { return; }
  var base = "/s/channels/v/" + encodeURIComponent(root.dataset.verification) + "/video";
  var actions = root.dataset.actions.split(",");
  var startButton = document.getElementById("video-start");
  var preview = document.getElementById("video-preview");
  var prompt = document.getElementById("video-prompt");
  var message = document.getElementById("video-message");
  var CHUNK = 512 * 1024;
  var PROMPTS = {
    "turn-left": "Turn your head to your left… and back",
    "turn-right": "Turn your head to your right… and back",
    "blink": "Close your eyes briefly… and open them",
    "nod": "Lower your chin… and back"
  };
  var REASONS = {
    "still-image": "The video did not show any movement. Please try again, live.",
    "no-face": "We could not see your face clearly. Face the camera in good light and try again.",
    "actions-out-of-order": "The movements did not follow the order shown. Please try again.",
    "action-missing": "We could not see every movement. Make each one clearly and try again.",
    "replay": "This video was already used. Please record a new one.",
    "hash-mismatch": "The upload was damaged on the way. Please record again.",
    "too-short": "The video was too short. Please try again.",
    "unreadable": "Your browser's video could not be read. Please try again."
  };

  function say(text) { message.textContent = text; }
  function sleep(ms) { return new Promise(function (r) { window.setTimeout(r, ms); }); }

  function nonceBytes() {
    var b64 = root.dataset.nonce.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var raw = atob(b64), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out;
  }

  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function reportDenied() {
    // The run ends as "failed: camera-denied" so that another channel can be offered.
    document.getElementById("video-denied-form").submit();
  }

  function openCamera() {
    var video = { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" };
    return navigator.mediaDevices.getUserMedia({ video: video, audio: true })
      .catch(function (err) {
        if (err && err.name === "NotAllowedError") { throw err; }
        return navigator.mediaDevices.getUserMedia({ video: video, audio: false });
      });
  }

  function pickType() {
    var types = ["video/webm;codecs=vp8,opus", "video/webm;codecs=vp8", "video/webm",
                 "video/mp4"];
    for (var i = 0; i < types.length; i++) {
      if (window.MediaRecorder && MediaRecorder.isTypeSupported(types[i])) { return types[i]; }
    }
    return "";
  }

  async function perform() {
    prompt.textContent = "Look at the camera";
    await sleep(1500);
    for (var i = 0; i < actions.length; i++) {
      prompt.textContent = (i + 1) + ". " + PROMPTS[actions[i]];
      await sleep(2500);
    }
    prompt.textContent = "Say: “" + root.dataset.phrase + "”";
    await sleep(3000);
    prompt.textContent = "";
  }

  async function record(stream, type) {
    var parts = [];
    var recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
    recorder.ondataavailable = function (e) { if (e.data && e.data.size) { parts.push(e.data); } };
    var stopped = new Promise(function (r) { recorder.onstop = r; });
    recorder.start(1000);
    await perform();
    recorder.stop();
    await stopped;
    return new Blob(parts, { type: recorder.mimeType || type || "video/webm" });
  }

  async function post(url, body, contentType) {
    for (var attempt = 0; ; attempt++) {
      try {
        var r = await fetch(url, { method: "POST", body: body, credentials: "same-origin",
                                   headers: { "Content-Type": contentType } });
        if (r.status < 500 || attempt >= 2) { return r; }
      } catch (e) {
        if (attempt >= 2) { throw e; }
      }
      await sleep(1000 * (attempt + 1));
    }
  }

  async function upload(bytes, type) {
    var total = Math.ceil(bytes.length / CHUNK);
    for (var seq = 0; seq < total; seq++) {
      say("Uploading… " + Math.round(100 * seq / total) + "%");
      var r = await post(base + "/chunks?seq=" + seq, bytes.slice(seq * CHUNK, (seq + 1) * CHUNK),
                         type.split(";")[0]);
      if (!r.ok) { throw new Error("upload refused (" + r.status + ")"); }
    }
  }

  async function run() {
    startButton.disabled = true;
    if (!navigator.mediaDevices || !window.MediaRecorder || !window.crypto.subtle) {
      say("This browser cannot record video here. Use another browser, or ask for help below.");
      return;
    }
    var stream;
    try {
      stream = await openCamera();
    } catch (err) {
      say("We could not use your camera (" + (err && err.name || "error") + "). " +
          "This step will be marked as not possible by video.");
      await sleep(1500);
      reportDenied();
      return;
    }
    preview.srcObject = stream;
    try {
      var type = pickType();
      var blob = await record(stream, type);
      stream.getTracks().forEach(function (t) { t.stop(); });
      var bytes = new Uint8Array(await blob.arrayBuffer());
      var nonce = nonceBytes();
      var joined = new Uint8Array(bytes.length + nonce.length);
      joined.set(bytes, 0);
      joined.set(nonce, bytes.length);
      var digest = hex(await crypto.subtle.digest("SHA-256", joined));
      await upload(bytes, blob.type || type || "video/webm");
      say("Checking your video…");
      var r = await post(base + "/finish", JSON.stringify({ sha256: digest }), "application/json");
      var body = await r.json();
      if (body.status !== "pending") { window.location.reload(); return; }
      say((REASONS[body.reason] || "The video did not pass.") + " Attempts left: " +
          body.attempts_left + ".");
      startButton.disabled = false;
      startButton.textContent = "Record again";
    } catch (err) {
      stream.getTracks().forEach(function (t) { t.stop(); });
      say("Something went wrong (" + err.message + "). Please try again.");
      startButton.disabled = false;
    }
  }

  startButton.addEventListener("click", function () { run(); });
})();
