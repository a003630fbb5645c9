// The home page: upload a CV, start a search, follow every search to its review, and keep the
// application tracker up to date. Everything comes from the JSON API through templates/page.js.
"use strict";

(() => {
  const { h, request, showNotice, isWebLink, localTime, STAGE_LABELS } = window.JobLand;
  const API = document.body.dataset.apiBase;
  const STATUSES = document.body.dataset.statuses.split(" ");
  const ACTIVE_STAGES = new Set(["running", "delivering"]);
  const POLL_MS = 2000;
  // The uploaded CV is kept for this tab only: a reload keeps it, another person's tab never sees it.
  const CV_KEY = "jobland.cv";

  const $ = (id) => document.getElementById(id);
  const view = {
    cvForm: $("cv-form"),
    cvFile: $("cv-file"),
    cvStatus: $("cv-status"),
    searchForm: $("search-form"),
    searchText: $("search-text"),
    postingInput: $("posting-input"),
    startSearch: $("start-search"),
    threads: $("threads"),
    threadsEmpty: $("threads-empty"),
    applications: $("applications"),
    applicationsEmpty: $("applications-empty"),
    checkReplies: $("check-replies"),
    replies: $("replies"),
    repliesEmpty: $("replies-empty"),
  };
  const state = { cv: JSON.parse(sessionStorage.getItem(CV_KEY) || "null"), stages: new Map(), pollTimer: null };

  // ------------------------------------------------------------------ the CV and a new search

  function renderCv() {
    const cv = state.cv;
    view.cvStatus.textContent = cv
      ? `Using ${cv.file} (${cv.name}: ${cv.highlights} highlights in ${cv.sections.length} sections).`
      : "No CV uploaded yet in this tab.";
    view.startSearch.disabled = !cv;
  }

  async function uploadCv(event) {
    event.preventDefault();
    const file = view.cvFile.files[0];
    if (!file) return;
    const body = new FormData();
    body.append("file", file);
    view.cvStatus.textContent = `Reading ${file.name}…`;
    try {
      const read = await request(`${API}/cv`, { method: "POST", body });
      state.cv = { ...read, file: file.name };
      sessionStorage.setItem(CV_KEY, JSON.stringify(state.cv));
      showNotice("");
    } catch (error) {
      showNotice(`Could not read ${file.name}: ${error.message}`);
    }
    renderCv();
  }

  async function startSearch(event) {
    event.preventDefault();
    const message = view.searchText.value.trim();
    if (!state.cv || !message) return;
    view.startSearch.disabled = true;
    try {
      // The words are the query as typed (what the list shows); intake reads places to work from the message.
      // A pasted link or text is screened instead of the jobs folder.
      const posting = view.postingInput.value.trim();
      const pasted = !posting ? {} : /^https?:\/\/\S+$/.test(posting) ? { posting_url: posting } : { posting_text: posting };
      const body = JSON.stringify({ cv_id: state.cv.cv_id, message, query: message, ...pasted });
      await request(`${API}/threads`, { method: "POST", body });
      view.searchText.value = "";
      view.postingInput.value = "";
      showNotice("Search started: it shows below, and its review opens when packages are ready.", "info");
    } catch (error) {
      showNotice(`Could not start the search: ${error.message}`);
    }
    renderCv();
    await refresh();
  }

  // ------------------------------------------------------------------ searches

  function threadRow(thread) {
    const review = `/review/${encodeURIComponent(thread.thread_id)}`;
    const waiting = thread.stage === "awaiting_review";
    return h(
      "tr",
      { "data-thread-id": thread.thread_id, "data-stage": thread.stage },
      h("td", { class: "home-query", text: thread.query || "(from your CV)" }),
      h("td", {}, localTime(thread.created_at)),
      h("td", {}, h("span", { class: "stage", "data-stage": thread.stage, text: STAGE_LABELS[thread.stage] || thread.stage })),
      h("td", {}, h("a", { href: review, class: waiting ? "button primary" : "button", text: waiting ? "Review packages" : "Open" })),
    );
  }

  function renderThreads(threads) {
    view.threads.tBodies[0].replaceChildren(...threads.map(threadRow));
    view.threads.hidden = !threads.length;
    view.threadsEmpty.hidden = Boolean(threads.length);
    view.threadsEmpty.textContent = "No search yet: upload your CV and start one above.";
  }

  // ------------------------------------------------------------------ applications

  function statusPicker(entry) {
    const label = `Status of ${entry.title} at ${entry.company}`;
    const select = h(
      "select",
      { "aria-label": label, "data-package-id": entry.package_id },
      STATUSES.map((status) => h("option", { value: status, selected: status === entry.status, text: status })),
    );
    select.addEventListener("change", () => setStatus(entry, select));
    return select;
  }

  function applicationRow(entry) {
    const last = (entry.history || []).at(-1);
    const role = isWebLink(entry.posting_url)
      ? h("a", { href: entry.posting_url, rel: "noopener noreferrer nofollow", target: "_blank", text: entry.title })
      : entry.title;
    return h(
      "tr",
      { "data-package-id": entry.package_id, "data-status": entry.status },
      h("td", {}, localTime(entry.at)),
      h("td", {}, role),
      h("td", { text: entry.company }),
      h("td", {}, statusPicker(entry)),
      h("td", {}, last ? [localTime(last.at), last.note ? h("span", { class: "muted", text: ` ${last.note}` }) : null] : null),
    );
  }

  function renderApplications(entries) {
    view.applications.tBodies[0].replaceChildren(...entries.map(applicationRow));
    view.applications.hidden = !entries.length;
    view.applicationsEmpty.hidden = Boolean(entries.length);
    view.applicationsEmpty.textContent = "No application yet: approve a package at review and it is listed here once delivered.";
  }

  async function setStatus(entry, select) {
    select.disabled = true;
    try {
      const updated = await request(`${API}/applications/${encodeURIComponent(entry.package_id)}`, {
        method: "PATCH",
        body: JSON.stringify({ status: select.value }),
      });
      select.closest("tr").replaceWith(applicationRow(updated));
      showNotice(`${updated.title} at ${updated.company}: ${updated.status}.`, "info");
    } catch (error) {
      select.value = entry.status;
      select.disabled = false;
      showNotice(`Could not change the status: ${error.message}`);
    }
  }

  // ------------------------------------------------------------------ replies from employers

  function replyChange(reply) {
    if (reply.applied) return h("span", { class: "muted", text: `${reply.current_status} (applied)` });
    if (!reply.proposed_status) return h("span", { class: "muted", text: `${reply.current_status} (no change)` });
    const button = h("button", {
      type: "button",
      "data-gmail-id": reply.gmail_id,
      text: `${reply.current_status} → ${reply.proposed_status}: apply`,
    });
    button.addEventListener("click", () => applyReply(reply, button));
    return button;
  }

  function replyRow(reply) {
    return h(
      "tr",
      { "data-gmail-id": reply.gmail_id, "data-kind": reply.kind },
      h("td", {}, reply.date ? localTime(reply.date) : ""),
      h("td", { text: reply.sender }),
      h("td", { text: reply.subject }),
      h("td", { text: reply.kind }),
      h("td", { text: `${reply.title} at ${reply.company}` }),
      h("td", {}, replyChange(reply)),
    );
  }

  async function checkReplies() {
    view.checkReplies.disabled = true;
    try {
      const replies = await request(`${API}/applications/replies`);
      view.replies.tBodies[0].replaceChildren(...replies.map(replyRow));
      view.replies.hidden = !replies.length;
      view.repliesEmpty.hidden = Boolean(replies.length);
      view.repliesEmpty.textContent = "No reply to your applications in your inbox yet.";
    } catch (error) {
      showNotice(`Could not read your inbox: ${error.message}`);
    }
    view.checkReplies.disabled = false;
  }

  async function applyReply(reply, button) {
    button.disabled = true;
    try {
      const path = `${encodeURIComponent(reply.package_id)}/replies/${encodeURIComponent(reply.gmail_id)}/apply`;
      const applied = await request(`${API}/applications/${path}`, { method: "POST" });
      button.closest("tr").replaceWith(replyRow(applied));
      showNotice(`${applied.title} at ${applied.company}: ${applied.current_status}.`, "info");
      renderApplications(await request(`${API}/applications`));
    } catch (error) {
      button.disabled = false;
      showNotice(`Could not apply the reply: ${error.message}`);
    }
  }

  // ------------------------------------------------------------------ refresh

  async function refresh() {
    clearTimeout(state.pollTimer);
    try {
      const threads = await request(`${API}/threads`);
      // The tracker changes when a search delivers: read it again whenever a stage moved.
      const moved = threads.some((t) => state.stages.get(t.thread_id) !== t.stage);
      state.stages = new Map(threads.map((t) => [t.thread_id, t.stage]));
      renderThreads(threads);
      if (moved || !view.applications.tBodies[0].rows.length) renderApplications(await request(`${API}/applications`));
      if (threads.some((t) => ACTIVE_STAGES.has(t.stage))) state.pollTimer = setTimeout(refresh, POLL_MS);
    } catch (error) {
      showNotice(`Could not load your searches: ${error.message}`);
    }
  }

  view.cvForm.addEventListener("submit", uploadCv);
  view.searchForm.addEventListener("submit", startSearch);
  view.checkReplies.addEventListener("click", checkReplies);
  // Coming back to this tab (from a review, say) shows what changed meanwhile.
  document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && refresh());
  renderCv();
  refresh();
})();
