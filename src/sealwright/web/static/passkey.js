// Passkey registration and use on the signer pages: fetch options from the server, call
// navigator.credentials, post the result back. No library, no build step. The server
// keeps the challenge; this script only carries bytes between it and the authenticator.
(function () {
  "use strict";

  function toBytes(b64url) {
    const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    const raw = atob(b64 + "===".slice((b64.length + 3) % 4));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0)).buffer;
  }

  function toB64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let raw = "";
    for (const b of bytes) raw += String.fromCharCode(b);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    const o = Object.assign({}, json);
    o.challenge = toBytes(json.challenge);
    o.user = Object.assign({}, json.user, { id: toBytes(json.user.id) });
    o.excludeCredentials = (json.excludeCredentials || []).map((c) =>
      Object.assign({}, c, { id: toBytes(c.id) }));
    return o;
  }

  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    const o = Object.assign({}, json);
    o.challenge = toBytes(json.challenge);
    o.allowCredentials = (json.allowCredentials || []).map((c) =>
      Object.assign({}, c, { id: toBytes(c.id) }));
    return o;
  }

  function asJSON(cred) {
    if (typeof cred.toJSON === "function") return cred.toJSON();
    const r = cred.response;
    const out = {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: { clientDataJSON: toB64url(r.clientDataJSON) },
    };
    if (r.attestationObject) {
      out.response.attestationObject = toB64url(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = toB64url(r.authenticatorData);
      out.response.signature = toB64url(r.signature);
      if (r.userHandle) out.response.userHandle = toB64url(r.userHandle);
    }
    return out;
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error("refused");
    return response.json();
  }

  async function run(purpose) {
    const error = document.getElementById("passkey-error");
    error.hidden = true;
    try {
      const begun = await post("/s/passkey/options", { purpose: purpose });
      let credential;
      if (purpose === "register") {
        credential = await navigator.credentials.create({ publicKey: creationOptions(begun.options) });
      } else {
        credential = await navigator.credentials.get({ publicKey: requestOptions(begun.options) });
      }
      const url = purpose === "register" ? "/s/passkey/register" : "/s/passkey/verify";
      const done = await post(url, { credential: asJSON(credential) });
      window.location.assign(done.next);
    } catch (e) {
      error.hidden = false;
    }
  }

  for (const button of document.querySelectorAll("[data-passkey]")) {
    button.addEventListener("click", () => run(button.dataset.passkey));
  }
})();
