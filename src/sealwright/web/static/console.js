// Passkey (WebAuthn) buttons of the operator console. The server sends options as the JSON
// form of PublicKeyCredential{Creation,Request}Options; binary fields are base64url.
"use strict";
(function () {
  function b64urlToBytes(text) {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  }
  function bytesToB64url(buffer) {
    let s = "";
    new Uint8Array(buffer).forEach((b) => { s += String.fromCharCode(b); });
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function creationOptions(o) {
    o.challenge = b64urlToBytes(o.challenge);
    o.user.id = b64urlToBytes(o.user.id);
    (o.excludeCredentials || []).forEach((c) => { c.id = b64urlToBytes(c.id); });
    return o;
  }
  function requestOptions(o) {
    o.challenge = b64urlToBytes(o.challenge);
    (o.allowCredentials || []).forEach((c) => { c.id = b64urlToBytes(c.id); });
    return o;
  }
  function credentialJSON(cred) {
    const r = cred.response;
    const response = { clientDataJSON: bytesToB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = bytesToB64url(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = bytesToB64url(r.authenticatorData);
      response.signature = bytesToB64url(r.signature);
      if (r.userHandle) response.userHandle = bytesToB64url(r.userHandle);
    }
    return JSON.stringify({
      id: cred.id, rawId: bytesToB64url(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || null,
      response: response, clientExtensionResults: cred.getClientExtensionResults(),
    });
  }
  async function post(url, csrf, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" }, body: body || "{}",
    });
  }
  async function ceremony(button, create) {
    const main = document.getElementById("console");
    const csrf = main ? main.dataset.csrf : "";
    const error = document.getElementById("passkey-error");
    if (error) error.hidden = true;
    try {
      const options = await (await post(button.dataset.options, csrf)).json();
      const cred = create
        ? await navigator.credentials.create({ publicKey: creationOptions(options) })
        : await navigator.credentials.get({ publicKey: requestOptions(options) });
      const answer = await (await post(button.dataset.submit, csrf, credentialJSON(cred))).json();
      if (answer.ok) { window.location.assign(answer.next); return; }
      throw new Error(answer.error);
    } catch (e) {
      if (error) { error.textContent = "That was not accepted. Try again."; error.hidden = false; }
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.PublicKeyCredential) {
      document.querySelectorAll(".needs-js").forEach((n) => { n.style.display = "block"; });
      return;
    }
    const enrol = document.getElementById("enrol-passkey");
    if (enrol) enrol.addEventListener("click", () => ceremony(enrol, true));
    const verify = document.getElementById("verify-passkey");
    if (verify) verify.addEventListener("click", () => ceremony(verify, false));
  });
})();
