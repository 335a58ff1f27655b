// Posts the identity provider's answer on from our own origin, so the browser sends the
// signer's SameSite=Strict session cookie with it (the redirect from the provider did not).
(function () {
  "use strict";
  const form = document.getElementById("oidc-return");
  if (form) form.submit();
})();
