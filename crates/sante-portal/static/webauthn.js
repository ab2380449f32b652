// Passkeys (WebAuthn) on the portal's pages: buttons marked data-passkey="register" or
// "login" run a two-step ceremony against data-begin and data-finish. The server's
// options and the authenticator's answers travel as base64url JSON; the form's CSRF
// token goes in the x-csrf-token header. No inline script: the page's CSP forbids it.
"use strict";
(function () {
  function toBuffer(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var raw = atob(b64);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  async function post(url, csrf, body) {
    var res = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: JSON.stringify(body)
    });
    var answer = {};
    try { answer = await res.json(); } catch (e) { answer = {}; }
    if (!res.ok) { throw new Error(answer.error || ("HTTP " + res.status)); }
    return answer;
  }

  function creation(options) {
    var pk = options.publicKey;
    pk.challenge = toBuffer(pk.challenge);
    pk.user.id = toBuffer(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
    return { publicKey: pk };
  }

  function request(options) {
    var pk = options.publicKey;
    pk.challenge = toBuffer(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
    return { publicKey: pk };
  }

  function registration(cred) {
    return {
      id: cred.id,
      rawId: toText(cred.rawId),
      type: cred.type,
      response: {
        attestationObject: toText(cred.response.attestationObject),
        clientDataJSON: toText(cred.response.clientDataJSON),
        transports: cred.response.getTransports ? cred.response.getTransports() : []
      },
      extensions: cred.getClientExtensionResults()
    };
  }

  function assertion(cred) {
    return {
      id: cred.id,
      rawId: toText(cred.rawId),
      type: cred.type,
      response: {
        authenticatorData: toText(cred.response.authenticatorData),
        clientDataJSON: toText(cred.response.clientDataJSON),
        signature: toText(cred.response.signature),
        userHandle: cred.response.userHandle ? toText(cred.response.userHandle) : null
      },
      extensions: cred.getClientExtensionResults()
    };
  }

  async function ceremony(button) {
    var form = button.closest("form");
    var csrf = form.querySelector("[name=csrf]").value;
    var fields = {};
    new FormData(form).forEach(function (value, key) { if (key !== "csrf") { fields[key] = value; } });
    var begun = await post(button.dataset.begin, csrf, fields);
    var answer;
    if (button.dataset.passkey === "register") {
      answer = registration(await navigator.credentials.create(creation(begun.options)));
    } else {
      answer = assertion(await navigator.credentials.get(request(begun.options)));
    }
    var done = await post(button.dataset.finish, csrf, {
      ceremony: begun.ceremony,
      credential: answer,
      label: fields.label || "",
      continue: fields["continue"] || ""
    });
    window.location.assign(done.redirect);
  }

  document.querySelectorAll("[data-passkey]").forEach(function (button) {
    if (!window.PublicKeyCredential) { button.disabled = true; return; }
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var error = document.getElementById("passkey-error");
      if (error) { error.hidden = true; }
      button.disabled = true;
      ceremony(button).catch(function (e) {
        button.disabled = false;
        if (error) { error.textContent = e.message; error.hidden = false; }
      });
    });
  });
})();
