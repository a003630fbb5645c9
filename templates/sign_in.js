// The review link carries the API token in its fragment (#token=...), which no request, log or Referer
// ever holds. This fills the sign-in form with it and drops it from the address bar; the person signs
// in with the button, so a link from another page cannot sign this browser in on its own.
"use strict";

(() => {
  const token = new URLSearchParams(window.location.hash.slice(1)).get("token");
  if (!token) return;
  history.replaceState(null, "", window.location.pathname + window.location.search);
  document.getElementById("token").value = token;
  document.querySelector("#sign-in button").focus();
})();
