// The review page: reads the thread's JSON API, shows every package, collects decisions.
// Package data is untrusted (it quotes job postings): it only ever reaches the page through
// textContent and DOM APIs; documents' HTML is shown inside iframes sandboxed without scripts.
"use strict";

(() => {
  const THREAD_ID = document.body.dataset.threadId;
  const API_BASE = document.body.dataset.apiBase;
  const API = `${API_BASE}/threads/${encodeURIComponent(THREAD_ID)}`;
  const { h, request, showNotice, isWebLink, localTime, STAGE_LABELS } = window.JobLand;
  const POLL_MS = 2000;
  const ACTIVE_STAGES = new Set(["running", "delivering"]);
  const BUILT = new Set(["ready", "approved", "rejected", "sending", "sent", "failed", "timeout"]);
  const ACTIONS = [
    { action: "accept", label: "Accept" },
    { action: "edit", label: "Edit" },
    { action: "reject", label: "Reject" },
  ];
  // A package that failed or timed out while being built: build it again, or leave it out.
  const MISSING_ACTIONS = [
    { action: "retry", label: "Build again" },
    { action: "reject", label: "Leave out" },
  ];

  const $ = (id) => document.getElementById(id);
  const view = {
    stage: $("stage"),
    progressRow: $("progress-row"),
    progressLabel: $("progress-label"),
    progress: $("progress"),
    notice: $("notice"),
    intro: $("intro"),
    packages: $("packages"),
    bar: $("decision-bar"),
    summary: $("decision-summary"),
    submit: $("submit-decisions"),
  };

  const state = {
    status: null,
    packages: new Map(), // package id -> full package JSON
    cards: new Map(), // package id -> {element, key}
    decisions: new Map(), // package id -> {action, cv_markdown, cover_letter_markdown}
    confirmed: new Map(), // package id -> Set of the edit's unsupported line ids the person ticked
    open: new Map(), // package id -> Set of open section names (kept across re-renders)
    submitting: false,
    submitted: new Set(), // ids whose decision the server took but whose status has not moved yet
    events: null,
    pollTimer: null,
  };

  // ------------------------------------------------------------------ API (templates/page.js adds the CSRF token)

  const api = (path, options = {}, base = API) => request(base + path, options);

  // ------------------------------------------------------------------ the CV diff

  /** What a Markdown line says, for comparison: no markup, list markers or spacing. */
  function lineKey(line) {
    return line
      .replace(/^\s*(#{1,6}\s+|[-*+]\s+|\d+[.)]\s+)/, "")
      .replace(/[*_`]/g, "")
      .replace(/\s+/g, " ")
      .trim()
      .toLowerCase();
  }

  /** Blocks of a Markdown text: headings and list items alone, soft-wrapped paragraph lines joined. */
  function markdownBlocks(markdown) {
    const blocks = [];
    let paragraph = [];
    const flush = () => {
      if (paragraph.length) blocks.push(paragraph.join(" "));
      paragraph = [];
    };
    for (const raw of String(markdown || "").split(/\r?\n/)) {
      const line = raw.trim();
      if (!line) flush();
      else if (/^(#{1,6}\s|[-*+]\s|\d+[.)]\s)/.test(line)) {
        flush();
        blocks.push(line);
      } else paragraph.push(line);
    }
    flush();
    return blocks.filter((b) => lineKey(b));
  }

  /**
   * The tailored CV against the master CV, block by block: kept (in the same order), moved
   * (in both, another order), added (only in the tailored CV), dropped (only in the master).
   */
  function cvDiff(masterMarkdown, tailoredMarkdown) {
    const master = markdownBlocks(masterMarkdown);
    const tailored = markdownBlocks(tailoredMarkdown);
    const a = master.map(lineKey);
    const b = tailored.map(lineKey);
    // Longest common subsequence table, from the end.
    const lcs = Array.from({ length: a.length + 1 }, () => new Uint16Array(b.length + 1));
    for (let i = a.length - 1; i >= 0; i--) {
      for (let j = b.length - 1; j >= 0; j--) {
        lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    const inMaster = new Set(a);
    const inTailored = new Set(b);
    const rows = [];
    let i = 0;
    let j = 0;
    while (i < a.length || j < b.length) {
      if (i < a.length && j < b.length && a[i] === b[j]) {
        rows.push({ kind: "kept", text: tailored[j] });
        i++;
        j++;
      } else if (j < b.length && (i >= a.length || lcs[i][j + 1] >= lcs[i + 1][j])) {
        rows.push({ kind: inMaster.has(b[j]) ? "moved" : "added", text: tailored[j] });
        j++;
      } else {
        if (!inTailored.has(a[i])) rows.push({ kind: "dropped", text: master[i] });
        i++;
      }
    }
    return rows;
  }

  const DIFF_LABELS = {
    kept: { mark: " ", word: "kept" },
    moved: { mark: "↕", word: "moved" },
    added: { mark: "+", word: "added or reworded" },
    dropped: { mark: "−", word: "dropped" },
  };

  function diffView(pkg) {
    if (!pkg.cv || !pkg.master_cv_markdown) return h("p", { class: "muted", text: "No master CV to compare with." });
    const flagged = (pkg.flagged_claims || []).map(lineKey).filter(Boolean);
    const rows = cvDiff(pkg.master_cv_markdown, pkg.cv.markdown);
    const counts = { kept: 0, moved: 0, added: 0, dropped: 0 };
    const list = h("ol", { class: "diff", "aria-label": "Tailored CV compared with the master CV" });
    for (const row of rows) {
      counts[row.kind]++;
      const key = lineKey(row.text);
      const isFlagged = row.kind !== "dropped" && flagged.some((f) => key.includes(f) || f.includes(key));
      const label = DIFF_LABELS[row.kind];
      list.append(
        h(
          "li",
          { class: `diff-${row.kind}${isFlagged ? " flagged" : ""}` },
          h("span", { class: "diff-mark", "aria-hidden": "true", text: label.mark }),
          h("span", { class: "visually-hidden", text: `${label.word}${isFlagged ? ", flagged" : ""}: ` }),
          h("span", { class: "diff-text", text: row.text }),
        ),
      );
    }
    const legend = h(
      "p",
      { class: "diff-legend" },
      ...Object.entries(counts).map(([kind, n]) =>
        h("span", { class: `legend legend-${kind}`, text: `${n} ${DIFF_LABELS[kind].word}` }),
      ),
    );
    return h("div", {}, legend, list);
  }

  // ------------------------------------------------------------------ one package card

  function section(pkg, name, title, content) {
    const open = state.open.get(pkg.id) || new Set();
    const details = h(
      "details",
      { class: `panel panel-${name}`, open: open.has(name) },
      h("summary", {}, h("span", { text: title })),
      content,
    );
    details.addEventListener("toggle", () => {
      const names = state.open.get(pkg.id) || new Set();
      if (details.open) names.add(name);
      else names.delete(name);
      state.open.set(pkg.id, names);
    });
    return details;
  }

  function documentFrame(html, title) {
    // sandbox="" forbids scripts, forms, popups and same-origin access for the document's HTML.
    return h("iframe", { class: "document", sandbox: "", srcdoc: html, title, referrerpolicy: "no-referrer" });
  }

  function chipList(items, className, emptyText) {
    if (!items || !items.length) return h("p", { class: "muted", text: emptyText });
    return h("ul", { class: `chips ${className}` }, items.map((item) => h("li", { text: item })));
  }

  function verdictView(pkg) {
    const s = pkg.screening;
    return h(
      "div",
      { class: "verdict" },
      h("h3", { text: "Why it matches" }),
      h("ul", { class: "reasons" }, (s.reasons || []).map((r) => h("li", { text: r }))),
      h("h3", { text: "Missing skills" }),
      chipList(s.missing_skills, "chips-missing", "None: the CV covers every required skill."),
      s.deal_breakers && s.deal_breakers.length
        ? [h("h3", { text: "Deal-breakers" }), chipList(s.deal_breakers, "chips-danger", "")]
        : null,
    );
  }

  function flaggedView(pkg) {
    if (!pkg.flagged_claims || !pkg.flagged_claims.length) return null;
    return h(
      "div",
      { class: "flagged-box", role: "note" },
      h("h3", { text: `Not supported by your master CV (${pkg.flagged_claims.length})` }),
      h("ul", {}, pkg.flagged_claims.map((claim) => h("li", { text: claim }))),
      h("p", { class: "hint", text: "Edit the CV to remove or rephrase these before accepting." }),
    );
  }

  function checksView(pkg) {
    const items = (pkg.checks || []).map((check) =>
      h(
        "li",
        { class: check.passed ? "check-pass" : "check-fail" },
        h("span", { class: "check-icon", "aria-hidden": "true", text: check.passed ? "✓" : "✗" }),
        h(
          "div",
          {},
          h("strong", { text: `${check.name.replace(/_/g, " ")}: ${check.passed ? "passed" : "failed"}` }),
          h("ul", { class: "check-details" }, (check.details || []).map((d) => h("li", { text: d }))),
        ),
      ),
    );
    if (pkg.error) items.push(h("li", { class: "check-fail" }, h("strong", { text: `Error: ${pkg.error}` })));
    return items.length ? h("ul", { class: "checks" }, items) : h("p", { class: "muted", text: "No checks ran." });
  }

  function sourceView(fact) {
    if (isWebLink(fact.source)) {
      return h("a", { href: fact.source, rel: "noopener noreferrer nofollow", target: "_blank", text: fact.source });
    }
    return h("span", { text: fact.source_kind === "job_posting" ? "the posting itself" : fact.source });
  }

  function dossierView(pkg) {
    const dossier = pkg.dossier;
    if (!dossier) return h("p", { class: "muted", text: "No dossier." });
    const topics = [
      ["business", "What it does"],
      ["products", "Products"],
      ["customers", "Customers"],
      ["size", "Size"],
      ["stage", "Stage"],
      ["locations", "Locations"],
      ["team", "The team"],
      ["mission", "Mission"],
      ["culture", "Culture"],
      ["recent_news", "Recent news"],
    ];
    const list = h(
      "dl",
      { class: "dossier" },
      topics.map(([key, label]) => {
        const facts = dossier[key] || [];
        return [
          h("dt", { text: label }),
          facts.length
            ? facts.map((fact) =>
                h("dd", {}, h("p", { text: fact.text }), h("p", { class: "source" }, "Source: ", sourceView(fact))),
              )
            : h("dd", { class: "muted", text: "Unknown" }),
        ];
      }),
    );
    // Why so little is known, when the posting (and the web) said little.
    return dossier.note ? [h("p", { class: "muted", text: dossier.note }), list] : list;
  }

  function downloadsView(pkg) {
    const base = `${API}/packages/${encodeURIComponent(pkg.id)}/files/`;
    const files = [];
    if (pkg.cv && pkg.cv.pdf_file) files.push(["cv.pdf", "CV (PDF)"]);
    if (pkg.cv) files.push(["cv.md", "CV (Markdown)"]);
    if (pkg.cover_letter && pkg.cover_letter.pdf_file) files.push(["cover_letter.pdf", "Letter (PDF)"]);
    if (pkg.cover_letter) files.push(["cover_letter.md", "Letter (Markdown)"]);
    if (pkg.status === "sent") files.push(["message.eml", "Email (.eml)"]);
    return h(
      "ul",
      { class: "downloads", "aria-label": "Downloads" },
      files.map(([name, label]) => h("li", {}, h("a", { href: base + name, download: "", text: label }))),
    );
  }

  /** Every status the package went through, with its time (and the note, e.g. why it failed). */
  function timelineView(pkg) {
    return h(
      "ol",
      { class: "timeline", "aria-label": "Status history" },
      (pkg.history || []).map((change) =>
        h(
          "li",
          { "data-status": change.status, title: change.note || "" },
          h("span", { class: "timeline-status", text: change.status }),
          " ",
          localTime(change.at),
        ),
      ),
    );
  }

  function failureView(pkg) {
    if (!["failed", "timeout"].includes(pkg.status)) return null;
    // A failure after approval is the delivery's; before it, the package could not be built.
    const missing = !(pkg.history || []).some((change) => change.status === "approved");
    return h(
      "div",
      { class: "failure-box", role: "note" },
      h("h3", { text: missing ? "Missing: this package could not be built" : "Not delivered" }),
      h("p", { class: "failure-reason", text: pkg.error || "No reason was recorded." }),
      h("p", {
        class: "hint",
        text: missing
          ? "Build it again when the review opens (the others stay as they are), or leave it out."
          : "See “Deliveries that did not go through” above: send it again, or mark it as sent.",
      }),
    );
  }

  function isMissing(pkg) {
    return Boolean(state.status && (state.status.missing || []).includes(pkg.id));
  }

  function statusBadge(status) {
    return h("span", { class: `status status-${status}`, "data-status": status, text: status });
  }

  function isDecidable(pkg) {
    const status = state.status;
    return Boolean(
      status &&
        status.stage === "awaiting_review" &&
        ((status.awaiting_review || []).includes(pkg.id) || isMissing(pkg)) &&
        !state.submitting &&
        !state.submitted.has(pkg.id),
    );
  }

  function decisionView(pkg) {
    const decision = state.decisions.get(pkg.id);
    const chosen = decision ? decision.action : null;
    const buttons = (isMissing(pkg) ? MISSING_ACTIONS : ACTIONS).map(({ action, label }) =>
      h("button", {
        type: "button",
        class: `button choice choice-${action}`,
        "aria-pressed": String(chosen === action),
        "data-action": action,
        text: label,
        onclick: () => choose(pkg, action),
      }),
    );
    const editor = chosen === "edit" ? editorView(pkg, decision) : null;
    return h(
      "div",
      { class: "decide" },
      unsupportedView(pkg),
      h("div", { class: "choices", role: "group", "aria-label": `Decision for ${pkg.title}` }, buttons),
      editor,
    );
  }

  /** Text of a Markdown block without its markup or escapes. */
  function plainText(text) {
    return text.replace(/\\(.)/g, "$1");
  }

  /** JobLand's own Markdown (templates/cv.md.j2, cover_letter.md.j2) laid out as the page's preview. */
  function previewView(markdown) {
    const nodes = [];
    let list = null;
    for (const block of markdownBlocks(markdown)) {
      const heading = /^(#{1,6})\s+(.*)$/.exec(block);
      const bullet = /^[-*+]\s+(.*)$/.exec(block);
      if (bullet) {
        if (!list) nodes.push((list = h("ul", {})));
        list.append(h("li", { text: plainText(bullet[1]) }));
        continue;
      }
      list = null;
      const strong = /^\*\*(.+)\*\*$/.exec(block);
      const emphasis = /^\*([^*].*)\*$/.exec(block);
      if (heading) nodes.push(h(`h${Math.min(heading[1].length + 2, 6)}`, { text: plainText(heading[2]) }));
      else if (strong) nodes.push(h("p", {}, h("strong", { text: plainText(strong[1]) })));
      else if (emphasis) nodes.push(h("p", {}, h("em", { text: plainText(emphasis[1]) })));
      else nodes.push(h("p", { text: plainText(block) }));
    }
    return nodes;
  }

  function editorView(pkg, decision) {
    const field = (name, label, value) => {
      const id = `${name}-${pkg.id}`;
      const area = h("textarea", { id, name, rows: 18, spellcheck: "true" });
      area.value = value;
      const preview = h("div", { class: "preview", "aria-live": "polite", "aria-label": `${label.split(" (")[0]} preview` }, previewView(value));
      area.addEventListener("input", () => {
        decision[name] = area.value;
        preview.replaceChildren(...previewView(area.value));
      });
      return h(
        "div",
        { class: "field field-edit" },
        h("label", { for: id, text: label }),
        h("div", { class: "edit-pair" }, area, preview),
      );
    };
    return h(
      "div",
      { class: "editor" },
      h("p", {
        class: "hint",
        text: "Edit in place; the preview follows. The edit is laid out in your CV's own style and checked against your master CV before anything is sent.",
      }),
      pkg.cv ? field("cv_markdown", "CV (Markdown)", decision.cv_markdown) : null,
      pkg.cover_letter ? field("cover_letter_markdown", "Cover letter (Markdown)", decision.cover_letter_markdown) : null,
    );
  }

  /** An edit's lines the master CV does not support: each is sent only if the person ticks it. */
  function unsupportedView(pkg) {
    const lines = pkg.unsupported_lines || [];
    if (!lines.length) return null;
    const confirmed = state.confirmed.get(pkg.id) || new Set();
    return h(
      "fieldset",
      { class: "unsupported-box" },
      h("legend", { text: `Your edit (version ${(pkg.versions || []).length + 1}) has ${lines.length} line(s) your master CV does not support` }),
      h("p", { class: "hint", text: "It is not sent until you tick each line you want sent anyway, then accept it (or edit it again)." }),
      h(
        "ul",
        {},
        lines.map((line) => {
          const id = `confirm-${pkg.id}-${line.id}`;
          const box = h("input", { type: "checkbox", id, class: "confirm-unsupported", "data-line-id": line.id });
          box.checked = confirmed.has(line.id);
          box.addEventListener("change", () => {
            const ids = state.confirmed.get(pkg.id) || new Set();
            if (box.checked) ids.add(line.id);
            else ids.delete(line.id);
            state.confirmed.set(pkg.id, ids);
          });
          return h(
            "li",
            {},
            box,
            h(
              "label",
              { for: id },
              h("span", { class: "unsupported-text", text: `“${line.text}”` }),
              h("span", { class: "unsupported-why", text: ` (${(line.problems || []).join("; ")}): send it anyway` }),
            ),
          );
        }),
      ),
    );
  }

  /** What the latest edit changed: the version before it against the current one. */
  function versionsView(pkg) {
    const versions = pkg.versions || [];
    if (!versions.length) return null;
    const before = versions[versions.length - 1];
    const rows = cvDiff(before.cv ? before.cv.markdown : "", pkg.cv ? pkg.cv.markdown : "");
    const letterRows = cvDiff(
      before.cover_letter ? before.cover_letter.markdown : "",
      pkg.cover_letter ? pkg.cover_letter.markdown : "",
    );
    const changed = (list) => list.filter((row) => row.kind === "added" || row.kind === "dropped");
    const item = (row) => h("li", { class: `diff-${row.kind}` }, h("span", { class: "diff-mark", "aria-hidden": "true", text: DIFF_LABELS[row.kind].mark }), h("span", { class: "diff-text", text: row.text }));
    const who = (v) => (v.edited_by ? `edited by ${v.edited_by}` : "as JobLand built it");
    return [
      h(
        "ol",
        { class: "versions" },
        [...versions, { number: versions.length + 1, edited_by: pkg.edited_by, made_at: pkg.edited_at }].map((v) =>
          h("li", {}, `Version ${v.number}, ${who(v)}`, v.made_at ? [" · ", localTime(v.made_at)] : null),
        ),
      ),
      h("h3", { text: `CV: version ${versions.length} → ${versions.length + 1}` }),
      h("ol", { class: "diff diff-version", "aria-label": "What the edit changed in the CV" }, changed(rows).map(item)),
      changed(letterRows).length
        ? [h("h3", { text: "Cover letter" }), h("ol", { class: "diff diff-version" }, changed(letterRows).map(item))]
        : null,
    ];
  }

  function choose(pkg, action) {
    const current = state.decisions.get(pkg.id);
    if (current && current.action === action) state.decisions.delete(pkg.id); // a second click undoes
    else if (action === "edit") {
      state.decisions.set(pkg.id, {
        action,
        cv_markdown: (current && current.cv_markdown) || (pkg.cv ? pkg.cv.markdown : ""),
        cover_letter_markdown:
          (current && current.cover_letter_markdown) || (pkg.cover_letter ? pkg.cover_letter.markdown : ""),
      });
    } else state.decisions.set(pkg.id, { action });
    // Only the decision area is rebuilt, so the documents' frames are not reloaded.
    const card = state.cards.get(pkg.id);
    const area = decisionView(pkg);
    card.element.querySelector(".decide").replaceWith(area);
    area.querySelector(`[data-action="${action}"]`).focus();
    renderDecisionBar();
  }

  function cardKey(pkg) {
    return [pkg.status, (pkg.versions || []).length, isDecidable(pkg)].join("|");
  }

  function buildCard(pkg) {
    const s = pkg.screening;
    const titleId = `title-${pkg.id}`;
    const probability = String(s.probability || "").toLowerCase();
    return h(
      "article",
      { class: `card card-${pkg.status}`, "aria-labelledby": titleId, "data-package-id": pkg.id },
      h(
        "header",
        { class: "card-head" },
        h(
          "div",
          { class: "score", role: "img", "aria-label": `Match score ${s.match_score} of 100` },
          h("span", { class: "score-value", text: String(s.match_score) }),
          h("span", { class: "score-unit", text: "/100" }),
        ),
        h(
          "div",
          { class: "card-title" },
          h("h2", { id: titleId, text: pkg.title }),
          h("p", { class: "company", text: pkg.company }),
        ),
        h(
          "div",
          { class: "badges" },
          h("span", { class: `badge prob-${probability}`, text: `${s.probability} probability` }),
          statusBadge(pkg.status),
        ),
      ),
      failureView(pkg),
      flaggedView(pkg),
      verdictView(pkg),
      section(pkg, "cv", "Tailored CV", pkg.cv ? documentFrame(pkg.cv.html, `Tailored CV for ${pkg.company}`) : null),
      section(pkg, "diff", "What changed from the master CV", diffView(pkg)),
      (pkg.versions || []).length ? section(pkg, "versions", `Your edits: version ${pkg.versions.length + 1}`, versionsView(pkg)) : null,
      section(
        pkg,
        "letter",
        "Cover letter",
        pkg.cover_letter
          ? [
              h("p", { class: "subject" }, h("strong", { text: "Subject: " }), pkg.cover_letter.subject),
              documentFrame(pkg.cover_letter.html, `Cover letter for ${pkg.company}`),
            ]
          : null,
      ),
      section(pkg, "dossier", `Company dossier: ${pkg.company}`, dossierView(pkg)),
      // Check names and timestamps are the machinery's: behind a toggle, with the outcome in its title.
      section(pkg, "details", detailsSummary(pkg), [checksView(pkg), timelineView(pkg)]),
      downloadsView(pkg),
      isDecidable(pkg) ? decisionView(pkg) : outcomeView(pkg),
    );
  }

  function detailsSummary(pkg) {
    const checks = pkg.checks || [];
    const failed = checks.filter((c) => !c.passed).length;
    const outcome = failed ? `${failed} of ${checks.length} checks failed` : `all ${checks.length} checks passed`;
    return `Details: ${outcome}, status history`;
  }

  function outcomeView(pkg) {
    const words = {
      ready: "Waiting for a decision.",
      approved: "Approved: on its way to your inbox.",
      rejected: "Rejected: it will not be sent.",
      sending: "Being sent to your inbox…",
      sent: "Sent to your inbox.",
      failed: pkg.error ? `Failed: ${pkg.error}` : "Failed.",
      timeout: pkg.error ? `Timed out: ${pkg.error}` : "Timed out.",
    };
    const pending = (state.submitting || state.submitted.has(pkg.id)) && pkg.status === "ready";
    const text = pending ? "Decision submitted…" : words[pkg.status] || pkg.status;
    return h("p", { class: `outcome outcome-${pkg.status}`, text });
  }

  function renderCard(pkg) {
    const key = cardKey(pkg);
    const existing = state.cards.get(pkg.id);
    if (existing && existing.key === key) return;
    const element = buildCard(pkg);
    if (existing) existing.element.replaceWith(element);
    else view.packages.append(element);
    state.cards.set(pkg.id, { element, key });
  }

  function placeholderCard(summary) {
    return h(
      "article",
      { class: "card card-building", "data-package-id": summary.package_id },
      h(
        "header",
        { class: "card-head" },
        h("div", { class: "card-title" }, h("h2", { text: summary.title }), h("p", { class: "company", text: summary.company })),
        h("div", { class: "badges" }, statusBadge(summary.status)),
      ),
      h("p", {
        class: "muted",
        text: BUILT.has(summary.status)
          ? "Its details could not be loaded; reload the page to try again."
          : "Being built: research, CV, letter and checks…",
      }),
    );
  }

  // ------------------------------------------------------------------ header and decision bar

  function renderStatus(status) {
    const stage = status.stage;
    view.stage.dataset.stage = stage;
    view.stage.textContent = STAGE_LABELS[stage] || stage;
    const progress = status.progress || {};
    for (const node of document.querySelectorAll("[data-count]")) {
      const value = progress[node.dataset.count];
      node.textContent = value === undefined || value === null ? "–" : String(value);
    }
    view.progressRow.hidden = !ACTIVE_STAGES.has(stage);
    if (stage === "running") {
      // Screening is the first half of the work, building packages the second.
      const total = (progress.postings || 0) + (progress.high || 0);
      const done = (progress.screened || 0) + (progress.packages_built || 0);
      setProgress(total ? (100 * done) / total : null, progress.postings ? "Screening and building…" : "Finding postings…");
    } else if (stage === "delivering") {
      const approved = (status.packages || []).filter((p) => ["approved", "sent"].includes(p.status)).length;
      setProgress(approved ? (100 * (progress.delivered || 0)) / approved : null, "Delivering…");
    }
    if (stage === "failed" || stage === "interrupted") {
      showNotice(
        status.error ||
          (stage === "interrupted"
            ? "This run was interrupted (the server stopped). Resume it with `jobland resume` or the API."
            : "This run failed."),
      );
    } else if (view.notice.dataset.kind === "error" && !state.submitting) showNotice("");
  }

  function setProgress(percent, label) {
    view.progressLabel.textContent = label;
    if (percent === null) view.progress.removeAttribute("value");
    else view.progress.value = Math.max(0, Math.min(100, percent));
  }

  function renderIntro() {
    const status = state.status;
    const count = (status.packages || []).length;
    const waiting = (status.awaiting_review || []).length;
    const missing = (status.missing || []).length;
    let text;
    if (status.stage === "running") text = count ? `${count} package(s) so far; more may come.` : "Screening postings; packages appear here as they are built.";
    else if (status.stage === "awaiting_review") {
      text = `${waiting} of ${count} package(s) wait for your decision. Accept, edit or reject each, then submit.`;
      if (missing) text += ` ${missing} could not be built: each card says why; build it again or leave it out.`;
    }
    else if (!count) text = "No posting was a strong enough match to build a package.";
    else {
      const tally = {};
      for (const p of status.packages) tally[p.status] = (tally[p.status] || 0) + 1;
      const parts = Object.entries(tally).map(([name, n]) => `${n} ${name}`);
      text = `${count} package(s): ${parts.join(", ")}.`;
    }
    view.intro.textContent = text;
  }

  function renderDecisionBar() {
    const status = state.status;
    const waiting = status ? (status.awaiting_review || []).length + (status.missing || []).length : 0;
    const reviewing = status && status.stage === "awaiting_review" && waiting > 0;
    view.bar.hidden = !reviewing && !state.submitting;
    const chosen = [...state.decisions.values()];
    const tally = (action) => chosen.filter((d) => d.action === action).length;
    view.summary.textContent = chosen.length
      ? `${chosen.length} of ${waiting} decided: ${tally("accept")} accept, ${tally("edit")} edit, ${tally("reject")} reject` +
        (tally("retry") ? `, ${tally("retry")} build again.` : ".")
      : `${waiting} package(s) waiting. Choose Accept, Edit or Reject on each.`;
    view.submit.disabled = state.submitting || chosen.length === 0;
    view.submit.textContent = state.submitting ? "Submitting…" : `Submit ${chosen.length || ""} decision${chosen.length === 1 ? "" : "s"}`.replace("  ", " ");
  }

  // ------------------------------------------------------------------ refresh loop

  let refreshing = null;
  let refreshAgain = false;

  /** Reload the status and any package whose status changed; calls coalesce while one runs. */
  function refresh() {
    if (refreshing) {
      refreshAgain = true;
      return refreshing;
    }
    refreshing = (async () => {
      try {
        await load();
      } catch (error) {
        showNotice(`Could not load this search: ${error.message}`);
      } finally {
        refreshing = null;
        if (refreshAgain) {
          refreshAgain = false;
          refresh();
        }
      }
    })();
    return refreshing;
  }

  async function load() {
    const status = await api("");
    state.status = status;
    const waiting = new Set([...(status.awaiting_review || []), ...(status.missing || [])]);
    for (const id of state.decisions.keys()) if (!waiting.has(id)) state.decisions.delete(id);
    for (const id of state.confirmed.keys()) if (!waiting.has(id)) state.confirmed.delete(id);
    // Back at review, every submitted decision has been applied (an edit held for confirmation waits again).
    if (status.stage === "awaiting_review") state.submitted.clear();
    for (const id of state.submitted) if (!waiting.has(id)) state.submitted.delete(id);
    renderStatus(status);
    schedulePoll();
    const summaries = status.packages || (await api("/packages"));
    const stale = summaries.filter(
      (s) => {
        const known = state.packages.get(s.package_id);
        return BUILT.has(s.status) && (!known || known.status !== s.status || (known.versions || []).length + 1 !== s.version);
      },
    );
    // One package that fails to load must not hide the others.
    const loaded = await Promise.allSettled(
      stale.map(async (s) => state.packages.set(s.package_id, await api(`/packages/${encodeURIComponent(s.package_id)}`))),
    );
    const failed = loaded.filter((r) => r.status === "rejected").map((r) => r.reason.message);
    if (failed.length) showNotice(`Could not load ${failed.length} package(s): ${failed[0]}. Reload the page to try again.`);
    for (const summary of summaries) {
      const pkg = state.packages.get(summary.package_id);
      if (pkg) renderCard(pkg);
      else if (!state.cards.has(summary.package_id)) {
        const element = placeholderCard(summary);
        view.packages.append(element);
        state.cards.set(summary.package_id, { element, key: "building" });
      }
    }
    renderDeadLetters(status.dead_letters || []);
    renderIntro();
    renderDecisionBar();
  }

  // ------------------------------------------------------------------ deliveries that did not go through

  function renderDeadLetters(letters) {
    const open = letters.filter((d) => !d.resolution);
    const box = h(
      "section",
      { id: "dead-letters", class: "dead-letters", "aria-label": "Deliveries that did not go through", hidden: !open.length },
      h("h2", { text: "Deliveries that did not go through" }),
      h("p", {
        class: "hint",
        text: "Nothing resends these by itself. Check your inbox first: if it arrived, mark it as sent; if not, send it again.",
      }),
      h(
        "ul",
        {},
        open.map((letter) =>
          h(
            "li",
            { class: "dead-letter", "data-package-id": letter.package_id },
            h("strong", { text: `${letter.title} at ${letter.company}` }),
            h("span", { class: "badge", text: letter.kind === "unknown_outcome" ? "outcome unknown" : "attempts ran out" }),
            h("p", { class: "failure-reason", text: letter.reason }),
            h("button", { type: "button", class: "button", "data-choice": "retry", text: "Send again", onclick: () => resolveDeadLetter(letter, "retry") }),
            h("button", { type: "button", class: "button", "data-choice": "mark-sent", text: "Mark as sent", onclick: () => resolveDeadLetter(letter, "mark-sent") }),
          ),
        ),
      ),
    );
    const existing = $("dead-letters");
    if (existing) existing.replaceWith(box);
    else view.packages.before(box);
  }

  async function resolveDeadLetter(letter, choice) {
    for (const button of document.querySelectorAll("#dead-letters button")) button.disabled = true;
    try {
      await api(`/deliveries/${encodeURIComponent(letter.package_id)}/${choice}`, { method: "POST" }, API_BASE);
      showNotice(choice === "retry" ? "Sending it again…" : "Marked as sent: it will not be sent again.", "info");
    } catch (error) {
      showNotice(`Could not ${choice === "retry" ? "send it again" : "mark it as sent"}: ${error.message}`);
    }
    if (!state.events) listen();
    await refresh();
  }

  function schedulePoll() {
    clearTimeout(state.pollTimer);
    const active = state.submitting || state.submitted.size > 0 || (state.status && ACTIVE_STAGES.has(state.status.stage));
    // Events drive the refresh while the stream is open; polling is the fallback.
    if (active && (!state.events || state.events.readyState !== EventSource.OPEN)) {
      state.pollTimer = setTimeout(refresh, POLL_MS);
    }
  }

  function listen() {
    if (!("EventSource" in window)) return;
    const events = new EventSource(`${API}/events`, { withCredentials: true });
    state.events = events;
    for (const name of ["snapshot", "progress", "approval_request", "delivered", "done", "error"]) {
      events.addEventListener(name, () => refresh());
    }
    const stop = () => {
      // The run paused or ended (or the stream is unavailable): polling takes over while needed.
      events.close();
      if (state.events === events) state.events = null;
      schedulePoll();
    };
    events.addEventListener("done", stop);
    events.addEventListener("error", stop);
  }

  async function submitDecisions() {
    const decisions = [...state.decisions.entries()].map(([package_id, d]) => {
      const confirm_unsupported = [...(state.confirmed.get(package_id) || [])];
      if (d.action === "edit") {
        const pkg = state.packages.get(package_id);
        // Only a document that differs from what is shown is an edit of it.
        const changed = (name, doc) => (doc && d[name] !== doc.markdown ? d[name] : null);
        return {
          package_id,
          action: "edit",
          cv_markdown: changed("cv_markdown", pkg.cv),
          cover_letter_markdown: changed("cover_letter_markdown", pkg.cover_letter),
          confirm_unsupported,
        };
      }
      return d.action === "accept" ? { package_id, action: "accept", confirm_unsupported } : { package_id, action: d.action };
    });
    if (!decisions.length) return;
    state.submitting = true;
    renderDecisionBar();
    for (const pkg of state.packages.values()) renderCard(pkg); // decision buttons give way to "submitted"
    let problem = null;
    try {
      await api("/decisions", { method: "POST", body: JSON.stringify({ decisions }) });
      for (const { package_id } of decisions) state.submitted.add(package_id);
      state.decisions.clear();
    } catch (error) {
      const hint = error.status === 409 ? " This search is not waiting for a review (already submitted?)." : "";
      problem = `Could not submit the decisions: ${error.message}.${hint}`;
    }
    state.submitting = false;
    if (!state.events) listen(); // follow the delivery run
    await refresh();
    if (problem) showNotice(problem);
    else {
      showNotice(
        "Decisions submitted: approved packages go to your own inbox, rejected ones nowhere. An edit with lines " +
          "your master CV does not support is stored, not sent, until you confirm those lines on its card.",
        "info",
      );
    }
  }

  view.submit.addEventListener("click", submitDecisions);
  listen();
  refresh();
})();
