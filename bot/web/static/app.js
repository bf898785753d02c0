// Praktikbot web page: ask, reply drafts and admin. Plain JS, no external resources.
"use strict";

const PLACEHOLDER = "[Intet svar fundet i kilderne – skal besvares manuelt]";

const I18N = {
  da: {
    skip: "Spring til indhold", tagline: "Svar om virksomhedspraktik – altid med kilder", tabs: "Faner",
    tabAsk: "Spørg", tabDraft: "Udkast til svar", tabAdmin: "Admin",
    questionLabel: "Dit spørgsmål", questionPlaceholder: "Fx: Bruger forvaltningen KLV-listerne fra RAR?",
    ask: "Spørg", newConversation: "Ny samtale", askHint: "Ctrl+Enter sender", asking: "Søger i kilderne …",
    conversationCleared: "Ny samtale startet.", you: "Spørgsmål", sources: "Kilder",
    openSource: "Vis kilde {0} i dokumentet: {1}", helpful: "Godt svar", unhelpful: "Dårligt svar",
    feedbackThanks: "Tak for din feedback.", abstainedNote: "Kilderne besvarer ikke spørgsmålet.",
    lowConfidence: "Usikkert svar (sikkerhed {0} %): kontrollér citaterne, før du bruger svaret.",
    seeAlso: "Se også",
    inquiryLabel: "Henvendelse (indsæt e-mail eller brev)",
    inquiryPlaceholder: "Kære forvaltning\n\n1. …?\n2. …?\n\nMed venlig hilsen\n…",
    includeInternal: "Medtag interne kilder (include internal sources)",
    includeInternalHint: "Uden flueben citerer udkastet kun offentlige kilder.",
    makeDraft: "Lav udkast", drafting: "Besvarer spørgsmålene …", draftHeading: "Udkast til svar",
    copyText: "Kopiér som tekst", downloadDocx: "Hent .docx", letterLabel: "Brevtekst",
    draftSources: "Kilder pr. spørgsmål", copied: "Brevteksten er kopieret.", downloaded: "Udkastet er hentet som .docx.",
    draftNote: "{0} spørgsmål fundet; {1} uden svar i kilderne skal besvares manuelt.",
    question: "Spørgsmål {0}", noSources: "Intet svar fundet i kilderne.",
    tokenLabel: "Admin-token", login: "Log ind", logout: "Log ud", loggingIn: "Logger ind …",
    wrongToken: "Forkert eller manglende token.", documents: "Dokumenter", noDocuments: "Ingen dokumenter i indekset endnu.",
    colTitle: "Titel", colFile: "Fil", colType: "Type", colValidFrom: "Gyldig fra", colChunks: "Tekstafsnit",
    colActions: "Handlinger", delete: "Slet", deleteLabel: "Slet {0}", confirmDelete: "Slet »{0}« fra vidensmappen og indekset?",
    deleted: "Slettet: {0}", deleting: "Sletter og genindlæser …",
    notIndexed: "Ikke i indekset", queued: "I kø: {0} job venter",
    upload: "Upload dokument", fileLabel: "Fil (.txt, .md, .pdf, .docx, .html – højst 10 MB)",
    folderLabel: "Mappe i vidensmappen", uploadButton: "Upload", uploading: "Uploader …",
    uploadHint: "En fil med samme navn erstattes. Genindlæs bagefter, så den kommer med i svarene.",
    uploaded: "Uploadet: {0}. Genindlæs for at bruge den.", replaced: "Erstattet: {0}. Genindlæs for at bruge den nye udgave.",
    reingest: "Genindlæsning", reingestButton: "Genindlæs nu", progress: "Fremdrift",
    ingesting: "Genindlæser: {0} af {1}", ingestDone: "Genindlæsning færdig.", ingestFailed: "Genindlæsning fejlede: {0}",
    lastReport: "Seneste indlæsning", noReport: "Ingen indlæsning endnu.",
    reportSummary: "{0} dokumenter, {1} tekstafsnit · {2} tilføjet, {3} opdateret, {4} fjernet, {5} uændret, {6} fejlet · {7} s",
    added: "Tilføjet", updated: "Opdateret", removed: "Fjernet", failed: "Fejlet", finishedAt: "Afsluttet {0}",
    personalData: "Personoplysninger", masked: "maskeret", notMasked: "ikke maskeret",
    close: "Luk", docChanged: "Dokumentet er ændret eller fjernet siden svaret; her er det citerede tekstafsnit.",
    docInternal: "Dokumentet er internt og vises kun for administratorer; her er det citerede tekstafsnit.",
    networkError: "Serveren svarer ikke. Prøv igen.",
  },
  en: {
    skip: "Skip to content", tagline: "Answers about work placements – always with sources", tabs: "Tabs",
    tabAsk: "Ask", tabDraft: "Reply draft", tabAdmin: "Admin",
    questionLabel: "Your question", questionPlaceholder: "E.g.: Does the administration use the KLV lists?",
    ask: "Ask", newConversation: "New conversation", askHint: "Ctrl+Enter sends", asking: "Searching the sources …",
    conversationCleared: "New conversation started.", you: "Question", sources: "Sources",
    openSource: "Show source {0} in its document: {1}", helpful: "Helpful answer", unhelpful: "Unhelpful answer",
    feedbackThanks: "Thank you for your feedback.", abstainedNote: "The sources do not answer the question.",
    lowConfidence: "Uncertain answer (confidence {0} %): check the quotes before you use it.",
    seeAlso: "See also",
    inquiryLabel: "Inquiry (paste the e-mail or letter)",
    inquiryPlaceholder: "Dear administration\n\n1. …?\n2. …?\n\nKind regards\n…",
    includeInternal: "Include internal sources",
    includeInternalHint: "Unticked, the draft quotes public sources only.",
    makeDraft: "Make draft", drafting: "Answering the questions …", draftHeading: "Reply draft",
    copyText: "Copy as text", downloadDocx: "Download .docx", letterLabel: "Letter text",
    draftSources: "Sources per question", copied: "The letter text has been copied.", downloaded: "The draft has been downloaded as .docx.",
    draftNote: "{0} questions found; {1} without an answer in the sources must be answered by hand.",
    question: "Question {0}", noSources: "No answer found in the sources.",
    tokenLabel: "Admin token", login: "Log in", logout: "Log out", loggingIn: "Logging in …",
    wrongToken: "Wrong or missing token.", documents: "Documents", noDocuments: "No documents in the index yet.",
    colTitle: "Title", colFile: "File", colType: "Type", colValidFrom: "Valid from", colChunks: "Passages",
    colActions: "Actions", delete: "Delete", deleteLabel: "Delete {0}", confirmDelete: "Delete “{0}” from the knowledge folder and the index?",
    deleted: "Deleted: {0}", deleting: "Deleting and re-ingesting …",
    notIndexed: "Not in the index", queued: "Queued: {0} job(s) waiting",
    upload: "Upload document", fileLabel: "File (.txt, .md, .pdf, .docx, .html – at most 10 MB)",
    folderLabel: "Folder in the knowledge folder", uploadButton: "Upload", uploading: "Uploading …",
    uploadHint: "A file with the same name is replaced. Re-ingest afterwards so answers use it.",
    uploaded: "Uploaded: {0}. Re-ingest to use it.", replaced: "Replaced: {0}. Re-ingest to use the new version.",
    reingest: "Re-ingest", reingestButton: "Re-ingest now", progress: "Progress",
    ingesting: "Re-ingesting: {0} of {1}", ingestDone: "Re-ingest finished.", ingestFailed: "Re-ingest failed: {0}",
    lastReport: "Last ingest", noReport: "No ingest yet.",
    reportSummary: "{0} documents, {1} passages · {2} added, {3} updated, {4} removed, {5} unchanged, {6} failed · {7} s",
    added: "Added", updated: "Updated", removed: "Removed", failed: "Failed", finishedAt: "Finished {0}",
    personalData: "Personal data", masked: "masked", notMasked: "not masked",
    close: "Close", docChanged: "The document has changed or been removed since the answer; here is the cited passage.",
    docInternal: "The document is internal and shown to administrators only; here is the cited passage.",
    networkError: "The server does not respond. Try again.",
  },
};

let lang = localStorage.getItem("praktikbot.lang") === "en" ? "en" : "da";
const t = (key, ...args) => args.reduce((text, arg, i) => text.replace(`{${i}}`, arg), I18N[lang][key] ?? key);
const $ = (selector) => document.querySelector(selector);

/** Create an element; text goes in as text nodes, never as HTML. */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function setStatus(node, text, kind = "") {
  node.textContent = text;
  node.className = `status ${kind}`;
}

function applyLanguage() {
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
  for (const node of document.querySelectorAll("[data-i18n-aria-label]")) node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel));
  const other = lang === "da" ? "en" : "da";
  const switcher = $("#lang-switch");
  switcher.textContent = other === "en" ? "English" : "Dansk";
  switcher.lang = other;
}

// --- HTTP -------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function request(path, { method = "GET", body, json, headers = {} } = {}) {
  const init = { method, headers: { ...headers } };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    init.body = body;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, t("networkError"));
  }
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail ?? detail; } catch { /* not JSON */ }
    throw new ApiError(response.status, typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return response;
}

// --- tabs ---------------------------------------------------------------------------------------------

const tabs = [...document.querySelectorAll('[role="tab"]')];

function selectTab(tab, focus = true) {
  for (const other of tabs) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1;
    document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
  }
  if (focus) tab.focus();
  history.replaceState(null, "", `#${tab.id.replace("tab-", "")}`);
}

tabs.forEach((tab, index) => {
  tab.addEventListener("click", () => selectTab(tab));
  tab.addEventListener("keydown", (event) => {
    const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
    if (event.key in moves) {
      event.preventDefault();
      selectTab(tabs[(moves[event.key] + tabs.length) % tabs.length]);
    }
  });
});

// --- answers and citations ----------------------------------------------------------------------------

/** The answer text as paragraphs, each [n] a button that opens citation n in its document. */
function renderAnswerText(answer) {
  const byNumber = new Map(answer.citations.map((c) => [c.n, c]));
  const container = el("div", { class: "answer-text" });
  for (const paragraph of answer.answer.split(/\n{2,}/)) {
    const p = el("p");
    for (const part of paragraph.split(/(\[\d+\])/)) {
      const citation = byNumber.get(Number(part.slice(1, -1)));
      if (/^\[\d+\]$/.test(part) && citation) {
        p.append(el("button", {
          type: "button", class: "marker", "aria-label": t("openSource", citation.n, citation.title),
          onclick: () => openCitation(citation),
        }, part));
      } else {
        p.append(part);
      }
    }
    container.append(p);
  }
  return container;
}

/** A low-confidence answer says so above its text; the bot is less sure the quotes answer the question. */
function confidenceNote(answer) {
  if (answer.abstained || !answer.low_confidence) return null;
  return el("p", { class: "low-confidence", role: "note" }, t("lowConfidence", Math.round(answer.confidence * 100)));
}

/** Passages that say the same as a quote: listed, not quoted twice. */
function renderSeeAlso(seeAlso) {
  if (!seeAlso || !seeAlso.length) return null;
  return el("div", { class: "see-also" }, el("h3", {}, t("seeAlso")),
    el("ul", {}, ...seeAlso.map((s) => el("li", {}, `${s.title} · ${s.section} (${s.source})`))));
}

function renderSources(citations) {
  const list = el("ol", { class: "sources" });
  for (const c of citations) {
    const meta = [c.section, c.valid_from, c.source].filter(Boolean).join(" · ");
    list.append(el("li", { value: c.n },
      el("button", { type: "button", class: "source-link", onclick: () => openCitation(c),
        "aria-label": t("openSource", c.n, c.title) }, c.title),
      el("span", { class: "meta" }, meta),
      el("blockquote", {}, c.quote)));
  }
  return list;
}

const normalize = (text) => text.replace(/\s+/g, " ").trim();
const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Where the quote is in the text: its offsets when they still fit, else a whitespace-tolerant search. */
function locate(text, quote, start, end) {
  if (start >= 0 && normalize(text.slice(start, end)) === normalize(quote)) return [start, end];
  const match = new RegExp(quote.trim().split(/\s+/).map(escapeRegExp).join("\\s+")).exec(text);
  return match ? [match.index, match.index + match[0].length] : null;
}

async function openCitation(citation) {
  const dialog = $("#citation-dialog");
  const target = $("#citation-text");
  const note = $("#citation-note");
  $("#citation-title").textContent = `[${citation.n}] ${citation.title}`;
  $("#citation-meta").textContent = [citation.section, citation.valid_from, citation.source].filter(Boolean).join(" · ");
  let text = null;
  let range = null;
  let reason = "docChanged";
  try {
    const doc = await (await admin(`/api/documents/${encodeURIComponent(citation.doc_id)}`)).json();
    range = locate(doc.text, citation.quote, citation.quote_start, citation.quote_end);
    if (range) text = doc.text;
  } catch (error) { // internal (403) or removed since the answer: show the cited passage instead
    if (error.status === 403) reason = "docInternal";
  }
  const changed = text === null;
  if (changed) {
    text = citation.passage;
    range = locate(text, citation.quote, -1, -1);
  }
  note.textContent = t(reason);
  note.hidden = !changed;
  const mark = range ? el("mark", {}, text.slice(range[0], range[1])) : null;
  target.replaceChildren(...(range ? [text.slice(0, range[0]), mark, text.slice(range[1])] : [text]));
  if (!dialog.open) dialog.showModal();
  mark?.scrollIntoView({ block: "center" });
  $("#citation-close").focus();
}

$("#citation-close").addEventListener("click", () => $("#citation-dialog").close());
$("#citation-dialog").addEventListener("click", (event) => {
  if (event.target === event.currentTarget) event.currentTarget.close(); // a click on the backdrop
});

// --- ask ----------------------------------------------------------------------------------------------

let conversation = []; // earlier turns, sent along so follow-up questions are understood

function feedbackControls(question, auditId) {
  const status = el("span", { class: "hint", role: "status" });
  const send = (rating, button) => async () => {
    try {
      await request("/api/feedback", { method: "POST", json: { question, rating, audit_id: auditId } });
      for (const b of button.parentNode.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === button));
      status.textContent = t("feedbackThanks");
    } catch (error) {
      status.textContent = error.message;
    }
  };
  const up = el("button", { type: "button", "aria-pressed": "false" }, el("span", { "aria-hidden": "true" }, "👍 "), t("helpful"));
  const down = el("button", { type: "button", "aria-pressed": "false" }, el("span", { "aria-hidden": "true" }, "👎 "), t("unhelpful"));
  up.addEventListener("click", send(1, up));
  down.addEventListener("click", send(-1, down));
  return el("div", { class: "feedback" }, up, down, status);
}

$("#ask-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("#question");
  const status = $("#ask-status");
  const question = input.value.trim();
  if (!question) return;
  const button = $("#ask-button");
  button.disabled = true;
  setStatus(status, t("asking"));
  try {
    const response = await request("/api/ask", { method: "POST", json: { question, history: conversation.slice(-3) } });
    const answer = await response.json();
    const auditId = Number(response.headers.get("X-Audit-Id")) || null;
    conversation.push({ question: answer.question, answer: answer.answer });
    const turn = el("article", { class: `turn${answer.abstained ? " abstained" : ""}` },
      el("p", { class: "asked" }, answer.question),
      confidenceNote(answer),
      renderAnswerText(answer),
      answer.citations.length ? el("h3", {}, t("sources")) : null,
      answer.citations.length ? renderSources(answer.citations) : null,
      renderSeeAlso(answer.see_also),
      feedbackControls(answer.question, auditId));
    $("#conversation").append(turn);
    turn.scrollIntoView({ block: "nearest" });
    setStatus(status, "");
    input.value = "";
  } catch (error) {
    setStatus(status, error.message, "error");
  } finally {
    button.disabled = false;
    input.focus();
  }
});

$("#question").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("#ask-form").requestSubmit();
});

$("#new-conversation").addEventListener("click", () => {
  conversation = [];
  $("#conversation").replaceChildren();
  setStatus($("#ask-status"), t("conversationCleared"));
  $("#question").focus();
});

// --- reply draft --------------------------------------------------------------------------------------

let currentDraft = null;

function renderLetter(letter) {
  const parts = letter.split(PLACEHOLDER);
  const nodes = parts.flatMap((part, i) => (i ? [el("mark", {}, PLACEHOLDER), part] : [part]));
  $("#letter").replaceChildren(...nodes);
}

$("#draft-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const status = $("#draft-status");
  const button = $("#draft-button");
  button.disabled = true;
  setStatus(status, t("drafting"));
  try {
    const json = { inquiry: $("#inquiry").value, include_internal: $("#include-internal").checked };
    currentDraft = await (await request("/api/draft", { method: "POST", json })).json();
    renderLetter(currentDraft.letter);
    const open = currentDraft.items.filter((item) => item.answer.abstained).length;
    $("#draft-note").textContent = t("draftNote", currentDraft.items.length, open);
    $("#draft-sources").replaceChildren(...currentDraft.items.map((item) => el("div", { class: "draft-item" },
      el("h4", {}, `${t("question", item.n)}: ${item.question}`),
      item.answer.citations.length ? renderSources(item.answer.citations) : el("p", { class: "hint" }, t("noSources")))));
    $("#draft-result").hidden = false;
    setStatus(status, "");
    $("#letter").focus();
  } catch (error) {
    setStatus(status, error.message, "error");
  } finally {
    button.disabled = false;
  }
});

$("#copy-letter").addEventListener("click", async () => {
  const status = $("#draft-status");
  try {
    await navigator.clipboard.writeText(currentDraft.letter);
  } catch { // no clipboard API (e.g. plain http on another host): copy the selected letter instead
    const selection = getSelection();
    selection.selectAllChildren($("#letter"));
    document.execCommand("copy");
    selection.removeAllRanges();
  }
  setStatus(status, t("copied"), "ok");
});

$("#download-docx").addEventListener("click", async () => {
  const status = $("#draft-status");
  try {
    const blob = await (await request("/api/draft.docx", { method: "POST", json: currentDraft })).blob();
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: "udkast-til-svar.docx" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    setStatus(status, t("downloaded"), "ok");
  } catch (error) {
    setStatus(status, error.message, "error");
  }
});

// --- admin --------------------------------------------------------------------------------------------

const TOKEN_KEY = "praktikbot.adminToken";

function admin(path, options = {}) {
  return request(path, { ...options, headers: { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) || ""}` } });
}

/** A refused token (or any failure before logging in) goes back to the login form with the reason. */
function adminFailed(error) {
  if (error.status === 401 || $("#admin-area").hidden) {
    sessionStorage.removeItem(TOKEN_KEY);
    $("#admin-area").hidden = true;
    $("#login-form").hidden = false;
    setStatus($("#login-status"), error.status === 401 ? t("wrongToken") : error.message, "error");
  } else {
    setStatus($("#admin-status"), error.message, "error");
  }
}

function renderReport(report) {
  const target = $("#report");
  if (!report) {
    target.replaceChildren(el("p", { class: "hint" }, t("noReport")));
    return;
  }
  const summary = t("reportSummary", report.documents, report.chunks, report.added.length, report.updated.length,
    report.removed.length, report.unchanged.length, report.failed.length, report.seconds);
  const lists = [["added", report.added], ["updated", report.updated], ["removed", report.removed],
    ["failed", report.failed.map((f) => `${f.path}: ${f.error}`)],
    ["personalData", (report.warnings || []).map((w) => `${w.path}: ${w.count} × ${w.kind}, ${t(w.masked ? "masked" : "notMasked")}`)]]
    .filter(([, items]) => items.length)
    .map(([key, items]) => el("div", {}, el("strong", {}, t(key)), el("ul", {}, ...items.map((i) => el("li", {}, i)))));
  const finished = report.finished_at ? t("finishedAt", new Date(report.finished_at * 1000).toLocaleString(lang)) : null;
  target.replaceChildren(el("div", { class: "report" },
    el("p", { class: "report-summary" }, summary), finished ? el("p", { class: "hint" }, finished) : null, ...lists));
}

/** Documents in the index, then files that are not (e.g. an upload that failed to ingest, with why). */
function renderDocuments(documents, notIndexed = []) {
  const body = $("#documents tbody");
  const row = (title, source, type, validFrom, chunks, label, path) => el("tr", {},
    el("td", { "data-label": t("colTitle") }, ...title),
    el("td", { "data-label": t("colFile"), class: "file" }, source),
    el("td", { "data-label": t("colType") }, type),
    el("td", { "data-label": t("colValidFrom") }, validFrom || "–"),
    el("td", { "data-label": t("colChunks"), class: "num" }, String(chunks)),
    el("td", {}, el("button", { type: "button", class: "danger", "aria-label": t("deleteLabel", label),
      onclick: () => deleteFile(path, label) }, t("delete"))));
  if (!documents.length && !notIndexed.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: "6" }, t("noDocuments"))));
  } else {
    body.replaceChildren(
      ...documents.map((doc) => row([doc.title], doc.source, doc.type, doc.valid_from, doc.chunks, doc.title,
        `documents/${encodeURIComponent(doc.doc_id)}`)),
      ...notIndexed.map((file) => row([t("notIndexed"), file.error ? el("div", { class: "hint" }, file.error) : null],
        file.source, "–", null, 0, file.source, `files/${file.source.split("/").map(encodeURIComponent).join("/")}`)));
  }
  const folders = new Set(["procedures", "guidelines", "inquiry-answers",
    ...documents.map((d) => d.source.split("/").slice(0, -1).join("/")).filter(Boolean)]);
  $("#folders").replaceChildren(...[...folders].sort().map((f) => el("option", { value: f })));
}

async function loadAdmin() {
  const data = await (await admin("/api/admin/documents")).json();
  $("#login-form").hidden = true;
  $("#admin-area").hidden = false;
  renderDocuments(data.documents, data.not_indexed);
  renderReport(data.ingest.report);
  if (data.ingest.running) followIngest();
}

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("#admin-token").value.trim());
  setStatus($("#login-status"), t("loggingIn"));
  try {
    await loadAdmin();
    setStatus($("#login-status"), "");
    $("#admin-token").value = "";
    $("#reingest").focus();
  } catch (error) {
    adminFailed(error);
  }
});

$("#logout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  $("#admin-area").hidden = true;
  $("#login-form").hidden = false;
  $("#admin-token").focus();
});

/** Delete a document or a file (`path` under /api/admin/), then follow the job taking it out of the index. */
async function deleteFile(path, title) {
  if (!confirm(t("confirmDelete", title))) return;
  setStatus($("#admin-status"), t("deleting"));
  try {
    const result = await (await admin(`/api/admin/${path}`, { method: "DELETE" })).json();
    const outcome = await followIngest();
    if (outcome && !outcome.error) setStatus($("#admin-status"), t("deleted", result.removed), "ok");
  } catch (error) {
    adminFailed(error);
  }
}

$("#upload-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const status = $("#upload-status");
  const button = $("#upload-button");
  button.disabled = true;
  setStatus(status, t("uploading"));
  try {
    const form = new FormData();
    form.append("file", $("#upload-file").files[0]);
    form.append("folder", $("#upload-folder").value.trim());
    const result = await (await admin("/api/admin/documents", { method: "POST", body: form })).json();
    setStatus(status, t(result.replaced ? "replaced" : "uploaded", result.source), "ok");
    $("#upload-file").value = "";
  } catch (error) {
    if (error.status === 401) adminFailed(error);
    else setStatus(status, error.message, "error"); // shown beside the upload form
  } finally {
    button.disabled = false;
  }
});

let following = false;

/** Poll the jobs' progress until none runs or waits, then show the last report and the new document list;
 * returns the final progress (nothing when another call is following already). */
async function followIngest() {
  if (following) return null;
  following = true;
  const button = $("#reingest");
  const status = $("#admin-status");
  button.disabled = true;
  setStatus(status, "");
  setStatus($("#upload-status"), ""); // "re-ingest to use it" is done now
  $("#progress-area").hidden = false;
  try {
    for (;;) {
      const progress = await (await admin("/api/admin/ingest")).json();
      $("#ingest-progress").max = Math.max(progress.total, 1);
      $("#ingest-progress").value = progress.done;
      const waiting = progress.pending > 1 ? ` · ${t("queued", progress.pending - 1)}` : "";
      $("#ingest-current").textContent = progress.running
        ? `${t("ingesting", progress.done, progress.total)} ${progress.current}${waiting}` : "";
      if (!progress.running) {
        if (progress.error) setStatus(status, t("ingestFailed", progress.error), "error");
        else setStatus(status, t("ingestDone"), "ok");
        await loadAdmin();
        return progress;
      }
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
  } catch (error) {
    adminFailed(error);
  } finally {
    following = false;
    button.disabled = false;
    $("#progress-area").hidden = true;
  }
}

$("#reingest").addEventListener("click", async () => {
  try {
    await admin("/api/admin/ingest?wait=false", { method: "POST" });
  } catch (error) {
    if (error.status !== 409) return adminFailed(error); // 409: one is running already: follow it
  }
  followIngest();
});

// --- start ----------------------------------------------------------------------------------------

$("#lang-switch").addEventListener("click", () => {
  lang = lang === "da" ? "en" : "da";
  localStorage.setItem("praktikbot.lang", lang);
  applyLanguage();
});

applyLanguage();
const initial = tabs.find((tab) => tab.id === `tab-${location.hash.slice(1)}`);
if (initial) selectTab(initial, false);
const linked = new URLSearchParams(location.search).get("q"); // "Åbn i webappen" from Slack
if (linked) {
  $("#question").value = linked;
  $("#ask-form").requestSubmit();
}
if (sessionStorage.getItem(TOKEN_KEY)) loadAdmin().catch(adminFailed);
