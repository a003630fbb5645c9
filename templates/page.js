// What the home and review pages share: DOM built from text only (API data quotes job postings and is
// untrusted), JSON API calls that carry the page's CSRF token on every change, times in the person's
// locale, the notice line and the sign-out button.
"use strict";

window.JobLand = (() => {
  // The server refuses any change a session cookie alone asks for: the page's own requests carry this token.
  const CSRF_TOKEN = document.querySelector('meta[name="csrf-token"]').content;

  const STAGE_LABELS = {
    running: "Searching and building packages",
    awaiting_review: "Waiting for your review",
    delivering: "Delivering approved packages",
    finished: "Finished",
    interrupted: "Interrupted",
    failed: "Failed",
  };

  /** An element with attributes and children; strings become text nodes, never markup. */
  function h(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  /** The JSON answer of a same-origin request; an Error with the server's detail and status otherwise. */
  async function request(url, options = {}) {
    const changes = (options.method || "GET") !== "GET";
    const json = options.body && !(options.body instanceof FormData);
    const response = await fetch(url, {
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        ...(json ? { "Content-Type": "application/json" } : {}),
        ...(changes ? { "X-CSRF-Token": CSRF_TOKEN } : {}),
      },
      ...options,
    });
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const detail = data && data.detail;
      const message = typeof detail === "string" ? detail : `${response.status} ${response.statusText}`;
      const error = new Error(message);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  const isWebLink = (value) => /^https?:\/\//i.test(String(value || ""));

  /** The page's #notice line: an error, or kind "info"; empty hides it. */
  function showNotice(message, kind = "error") {
    const notice = document.getElementById("notice");
    notice.hidden = !message;
    notice.dataset.kind = kind;
    notice.textContent = message || "";
  }

  /** A <time> showing an ISO timestamp as the person's locale writes date and time. */
  function localTime(iso) {
    return h("time", { datetime: iso, text: new Date(iso).toLocaleString() });
  }

  async function signOut() {
    try {
      await request("/review/sign-out", { method: "POST" });
    } catch (error) {
      showNotice(`Could not sign out: ${error.message}`);
      return;
    }
    window.location.reload();
  }
  document.getElementById("sign-out").addEventListener("click", signOut);

  // A link opened while signed in may still carry its #token=: it leaves the address bar unused.
  if (new URLSearchParams(window.location.hash.slice(1)).has("token")) {
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }

  return { h, request, showNotice, isWebLink, localTime, STAGE_LABELS };
})();
