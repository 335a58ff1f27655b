// Drawing pad: records strokes as [x, y, t_ms] with x, y normalised to 0..1. The timing is
// kept on purpose: it is evidence of how the signature was drawn (behavioural signals).
(function () {
  "use strict";
  var canvas = document.getElementById("pad");
  if (!canvas) { return; }
  var wrap = document.getElementById("pad-wrap");
  var out = document.getElementById("signature_strokes");
  var ctx = canvas.getContext("2d");
  var strokes = [], current = null, t0 = null;
  function toggle() {
    var drawn = document.getElementById("kind-drawn").checked;
    wrap.hidden = !drawn;
  }
  document.querySelectorAll("input[name=signature_kind]").forEach(function (r) {
    r.addEventListener("change", toggle);
  });
  function point(e) {
    var rect = canvas.getBoundingClientRect();
    if (t0 === null) { t0 = performance.now(); }
    var x = Math.min(1, Math.max(0, (e.clientX - rect.left) / rect.width));
    var y = Math.min(1, Math.max(0, (e.clientY - rect.top) / rect.height));
    return [Math.round(x * 10000) / 10000, Math.round(y * 10000) / 10000, Math.round(performance.now() - t0)];
  }
  function draw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.lineWidth = 2.5; ctx.lineCap = "round"; ctx.strokeStyle = "#102040";
    strokes.forEach(function (s) {
      ctx.beginPath();
      s.forEach(function (p, i) {
        var x = p[0] * canvas.width, y = p[1] * canvas.height;
        if (i === 0) { ctx.moveTo(x, y); } else { ctx.lineTo(x, y); }
      });
      ctx.stroke();
    });
    out.value = JSON.stringify(strokes);
  }
  canvas.addEventListener("pointerdown", function (e) {
    canvas.setPointerCapture(e.pointerId); current = [point(e)]; strokes.push(current); draw();
  });
  canvas.addEventListener("pointermove", function (e) {
    if (current) { current.push(point(e)); draw(); }
  });
  ["pointerup", "pointercancel"].forEach(function (n) {
    canvas.addEventListener(n, function () { current = null; });
  });
  document.getElementById("pad-clear").addEventListener("click", function () {
    strokes = []; t0 = null; draw();
  });
  toggle();
})();
