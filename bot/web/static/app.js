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
    draftSources: "Svar, kilder og noter pr. spørgsmål", copied: "Brevteksten er kopieret.", downloaded: "Udkastet er hentet som .docx.",
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
    months: "januar februar marts april maj juni juli august september oktober november december",
    asOfLabel: "Svar efter reglerne pr. (dato)", asOfHint: "Tomt felt: reglerne i dag.",
    draftAsOfHint: "Gælder alle spørgsmål i udkastet. Tomt felt: reglerne i dag.",
    asOfLine: "Gælder pr. {0} ({1})", asOfQuestion: "datoen i spørgsmålet", asOfRequest: "den valgte dato",
    warningsHeading: "Reglerne er ændret siden kilden", warningSource: "{0} (fra {1})",
    warningMessage: "Kilden er fra {0}. Reglerne blev ændret {1} ({2}) – kontrollér den gældende regel.",
    unverified: "ikke verificeret",
    draftNotesHint: "Ret svaret i feltet under spørgsmålet; tøm feltet for at bruge bottens svar igen. Noterne er til sagsbehandleren og står ikke i brevet.",
    validFromTo: "gyldig {0}–{1}", validFrom: "gyldig fra {0}", supersededByShort: "erstattet af nyere version",
    colValidTo: "Gyldig til", colStatus: "Status", inForce: "I kraft", notInForce: "Ikke i kraft",
    supersededBy: "erstattet af {0}", replaces: "erstatter {0}",
    timeline: "Tidslinje",
    timelineIntro: "Regelændringer, som kan gøre ældre kilder forældede: et svar, der citerer en kilde fra før en ændring, får en advarsel.",
    colDate: "Dato", colAct: "Lov eller bekendtgørelse", colSummary: "Ændring", colTopics: "Emner",
    timelineEmpty: "Ingen ændringer i tidslinjen.", timelineRejected: "Seneste indlæsning afviste tidslinjen: {0}",
    timelineYaml: "Rediger tidslinjen (YAML, rules-timeline.yaml)",
    timelineYamlHint: "Hver ændring har date, act, summary og topics; skriv verified: false og en note, når noget ikke er verificeret.",
    timelineNoFile: "Ingen tidslinjefil at vise: filen findes ikke endnu, eller serveren er en skrivebeskyttet kopi (rediger den så på workeren).",
    saveTimeline: "Gem tidslinje", savingTimeline: "Gemmer tidslinjen …", jobQueued: "Job {0} venter i kø …",
    jobRunning: "Job {0} tager tidslinjen i brug …", timelineSaved: "Tidslinjen er gemt og i brug ({0} ændringer).",
    timelineFailed: "Tidslinjen blev ikke taget i brug: {0}",
    tabFollowup: "Opfølgning", reload: "Opdatér", cancel: "Annullér",
    commentLabel: "Hvad var galt? (valgfrit)", sendComment: "Send kommentar", commentThanks: "Tak – kommentaren er sendt.",
    saveDraft: "Gem udkast", approve: "Godkend", saveAsSource: "Gem som kilde",
    letterStale: "Du har rettelser, der ikke er gemt: tryk »Gem udkast« for at se dem i brevet.",
    answerLabel: "Forvaltningens svar på spørgsmål {0} (kan rettes)", answerPlaceholder: "Skriv forvaltningens svar her.",
    edited: "rettet", savingDraft: "Gemmer udkastet …", draftSaved: "Udkastet er gemt.",
    discardEdits: "Du har rettelser, der ikke er gemt. Vil du kassere dem?",
    draftRecord: "Gemt udkast {0}: {1}", statusDraft: "udkast", statusApproved: "godkendt af {0}, {1}",
    savedAsSource: "gemt som kilde: {0}",
    savedDrafts: "Gemte udkast", colDraft: "Udkast", colSaved: "Senest gemt", colSource: "Kilde",
    noSavedDrafts: "Ingen gemte udkast endnu.", draftTitle: "{0} · {1} spørgsmål", open: "Åbn", openDraft: "Åbn udkast {0}",
    approveTitle: "Godkend udkastet", roleLabel: "Din rolle (stillingsbetegnelse)", rolePlaceholder: "Fx fuldmægtig",
    roleHint: "Skriv din stilling, aldrig dit navn: rollen står i listen over udkast og i kilden.",
    needsToken: "Godkendelse og kilder kræver admin-token: log ind på Admin-fanen først.",
    approving: "Godkender …", approved: "Udkastet er godkendt af {0}.",
    savingSource: "Gemmer som kilde …", sourceRunning: "Job {0} gemmer og indlæser kilden …",
    sourceSaved: "Gemt som kilde: {0}. Spørgsmålene besvares nu med citater fra det godkendte svar.",
    sourceFailed: "Kilden blev ikke gemt: {0}",
    followupLogin: "Opfølgning kræver admin-token: log ind på Admin-fanen først.", toAdmin: "Gå til Admin",
    followup: "Opfølgning", escalations: "Spørgsmål sendt til en fagperson", escalationsHint: "Åbne først, derefter besvarede.",
    gaps: "Huller i vores viden", gapsHint: "Spørgsmål, kilderne ikke besvarer, grupperet efter betydning; de hyppigste først.",
    doubted: "Svar med 👎", doubtedHint: "Svar, brugerne var utilfredse med, og deres kommentarer.",
    metricEscalations: "Sendt til en fagperson", metricOpen: "Åbne", metricMedian: "Median tid til en persons svar",
    metricDeclined: "Afviste spørgsmål", declinedShare: "{0} % ({1} af {2} svar)", minutes: "{0} min", hours: "{0} timer",
    noneYet: "– (intet besvaret endnu)", openEscalations: "Åbne ({0})", answeredEscalations: "Besvarede ({0})",
    reason_declined: "Botten kunne ikke svare", reason_doubted: "👎 til svaret", reason_asked: "Spurgt efter en fagperson",
    stateOpen: "Åben", stateAnswered: "Besvaret", personReply: "En persons svar, {0}:",
    noEscalations: "Ingen.", noGaps: "Ingen afviste spørgsmål.", noDoubted: "Ingen svar med 👎.",
    gapCount: "Afvist {0} gange", latest: "senest {0}", noComment: "(ingen kommentar)", moreAnswers: "og {0} flere",
    auditShort: "svar #{0}", auditLink: "Vis svar #{0} fra revisionsloggen", auditTitle: "Svar #{0} fra revisionsloggen",
    auditMeta: "{0} · kanal: {1}",
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
    draftSources: "Answers, sources and notes per question", copied: "The letter text has been copied.", downloaded: "The draft has been downloaded as .docx.",
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
    months: "January February March April May June July August September October November December",
    asOfLabel: "Answer by the rules as of (date)", asOfHint: "Empty: today's rules.",
    draftAsOfHint: "Applies to every question in the draft. Empty: today's rules.",
    asOfLine: "Applies as of {0} ({1})", asOfQuestion: "the date in the question", asOfRequest: "the chosen date",
    warningsHeading: "The rules have changed since the source", warningSource: "{0} (from {1})",
    warningMessage: "The source is from {0}. The rules changed on {1} ({2}) – check the current rule.",
    unverified: "not verified",
    draftNotesHint: "Edit the answer in the field below its question; empty the field to use the bot's answer again. The notes are for the case worker and are not in the letter.",
    validFromTo: "valid {0}–{1}", validFrom: "valid from {0}", supersededByShort: "superseded by a newer version",
    colValidTo: "Valid to", colStatus: "Status", inForce: "In force", notInForce: "Not in force",
    supersededBy: "superseded by {0}", replaces: "replaces {0}",
    timeline: "Timeline",
    timelineIntro: "Rule changes that can make older sources out of date: an answer quoting a source from before a change gets a warning.",
    colDate: "Date", colAct: "Act or order", colSummary: "Change", colTopics: "Topics",
    timelineEmpty: "No changes in the timeline.", timelineRejected: "The last ingest rejected the timeline: {0}",
    timelineYaml: "Edit the timeline (YAML, rules-timeline.yaml)",
    timelineYamlHint: "Each change has date, act, summary and topics; write verified: false and a note when something is not verified.",
    timelineNoFile: "No timeline file to show: it does not exist yet, or this server is a read-only replica (then edit it on the worker).",
    saveTimeline: "Save timeline", savingTimeline: "Saving the timeline …", jobQueued: "Job {0} is queued …",
    jobRunning: "Job {0} is putting the timeline in service …", timelineSaved: "The timeline is saved and in service ({0} changes).",
    timelineFailed: "The timeline was not put in service: {0}",
    tabFollowup: "Follow-up", reload: "Refresh", cancel: "Cancel",
    commentLabel: "What was wrong? (optional)", sendComment: "Send comment", commentThanks: "Thank you – the comment has been sent.",
    saveDraft: "Save draft", approve: "Approve", saveAsSource: "Save as source",
    letterStale: "You have unsaved edits: press “Save draft” to see them in the letter.",
    answerLabel: "The administration's answer to question {0} (editable)", answerPlaceholder: "Write the administration's answer here.",
    edited: "edited", savingDraft: "Saving the draft …", draftSaved: "The draft is saved.",
    discardEdits: "You have unsaved edits. Discard them?",
    draftRecord: "Saved draft {0}: {1}", statusDraft: "draft", statusApproved: "approved by {0}, {1}",
    savedAsSource: "saved as source: {0}",
    savedDrafts: "Saved drafts", colDraft: "Draft", colSaved: "Last saved", colSource: "Source",
    noSavedDrafts: "No saved drafts yet.", draftTitle: "{0} · {1} questions", open: "Open", openDraft: "Open draft {0}",
    approveTitle: "Approve the draft", roleLabel: "Your role (job title)", rolePlaceholder: "E.g. fuldmægtig",
    roleHint: "Write your job title, never your name: the role is shown in the list of drafts and in the source.",
    needsToken: "Approving and saving sources need the admin token: log in on the Admin tab first.",
    approving: "Approving …", approved: "The draft is approved by {0}.",
    savingSource: "Saving as source …", sourceRunning: "Job {0} is saving and ingesting the source …",
    sourceSaved: "Saved as source: {0}. Its questions are now answered with citations to the approved reply.",
    sourceFailed: "The source was not saved: {0}",
    followupLogin: "Follow-up needs the admin token: log in on the Admin tab first.", toAdmin: "Go to Admin",
    followup: "Follow-up", escalations: "Questions sent to an expert", escalationsHint: "Open ones first, then answered ones.",
    gaps: "Gaps in our knowledge", gapsHint: "Questions the sources don't answer, grouped by meaning; the most frequent first.",
    doubted: "Answers with 👎", doubtedHint: "Answers users were unhappy with, and their comments.",
    metricEscalations: "Sent to an expert", metricOpen: "Open", metricMedian: "Median time to a person's answer",
    metricDeclined: "Declined questions", declinedShare: "{0} % ({1} of {2} answers)", minutes: "{0} min", hours: "{0} hours",
    noneYet: "– (none answered yet)", openEscalations: "Open ({0})", answeredEscalations: "Answered ({0})",
    reason_declined: "The bot declined", reason_doubted: "👎 on the answer", reason_asked: "Asked for an expert",
    stateOpen: "Open", stateAnswered: "Answered", personReply: "A person's answer, {0}:",
    noEscalations: "None.", noGaps: "No declined questions.", noDoubted: "No answers with 👎.",
    gapCount: "Declined {0} times", latest: "latest {0}", noComment: "(no comment)", moreAnswers: "and {0} more",
    auditShort: "answer #{0}", auditLink: "Show answer #{0} from the audit log", auditTitle: "Answer #{0} from the audit log",
    auditMeta: "{0} · channel: {1}",
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

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A date at the precision it was written ("2019", "2020-01", "2020-01-01") as a reader of `lang` writes it. */
function formatDate(iso) {
  const match = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(iso || "");
  if (!match) return iso || "";
  const [, year, month, day] = match;
  if (!month) return year;
  const name = t("months").split(" ")[Number(month) - 1];
  if (!day) return `${name} ${year}`;
  return lang === "da" ? `${Number(day)}. ${name} ${year}` : `${Number(day)} ${name} ${year}`;
}

/** A moment stored as seconds since 1970, in the reader's language. */
const formatTime = (seconds) => new Date(seconds * 1000).toLocaleString(lang);

let lastId = 0;
/** A fresh element id, to tie a label to a field that is made more than once. */
const uniqueId = (prefix) => `${prefix}-${++lastId}`;

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
// What a tab loads each time it is shown, so it is current (other people save drafts, escalations come in).
const ON_SHOW = { "tab-draft": () => loadDrafts(), "tab-followup": () => loadFollowup() };

function selectTab(tab, focus = true) {
  for (const other of tabs) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1;
    document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
  }
  if (focus) tab.focus();
  history.replaceState(null, "", `#${tab.id.replace("tab-", "")}`);
  ON_SHOW[tab.id]?.();
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

/** An answer for another date than today says which date, and whether the question or the date field set it. */
function asOfLine(answer) {
  if (!answer.as_of || answer.as_of_given === "today") return null;
  const given = t(answer.as_of_given === "question" ? "asOfQuestion" : "asOfRequest");
  return el("p", { class: "as-of" }, t("asOfLine", formatDate(answer.as_of), given));
}

/** Rule changes after a quoted source was written, per source: the act, its date and the message; an
 * unverified change is marked as such. */
function renderWarnings(warnings) {
  if (!warnings || !warnings.length) return null;
  const bySource = new Map();
  for (const w of warnings) bySource.set(w.doc_id, [...(bySource.get(w.doc_id) || []), w]);
  const message = (w) => (lang === "da" ? w.message
    : t("warningMessage", formatDate(w.source_date), formatDate(w.date), w.act));
  const groups = [...bySource.values()].flatMap((group) => [
    el("p", { class: "warning-source" }, t("warningSource", group[0].title, formatDate(group[0].source_date))),
    el("ul", {}, ...group.map((w) => el("li", { class: w.verified ? "warning" : "warning unverified" },
      el("strong", { class: "act" }, w.act), " · ", el("time", { datetime: w.date }, formatDate(w.date)),
      w.verified ? null : el("span", { class: "badge" }, t("unverified")),
      el("span", { class: "message" }, message(w)),
      el("span", { class: "summary" }, w.summary))))]);
  return el("div", { class: "warnings", role: "note", "aria-label": t("warningsHeading") },
    el("h3", {}, el("span", { "aria-hidden": "true" }, "⚠ "), t("warningsHeading")), ...groups);
}

let versions = new Map(); // doc_id → the document version as /api/documents lists it

/** The document versions (valid-to dates, successors) the sources list shows beside each citation; without
 * them (e.g. the server is busy) a citation shows its valid-from date only. */
async function loadVersions() {
  try {
    const data = await (await admin("/api/documents")).json();
    versions = new Map(data.documents.map((doc) => [doc.doc_id, doc]));
  } catch (error) {
    console.warn("could not load the document versions:", error.message);
  }
}

/** A version's period: its valid-from date, and its valid-to date when it has one. */
function period(version) {
  const from = formatDate(version.valid_from);
  return version.valid_to ? `${from || "…"}–${formatDate(version.valid_to)}` : from;
}

/** The version a citation quotes, in words: when it is valid and, if replaced, by what. */
function describeVersion(version) {
  const from = formatDate(version.valid_from);
  const when = version.valid_to ? t("validFromTo", from || "…", formatDate(version.valid_to))
    : from ? t("validFrom", from) : null;
  const successor = version.superseded_by && versions.get(version.superseded_by);
  const replaced = version.superseded_by
    ? t("supersededBy", successor ? `${successor.title} (${formatDate(successor.valid_from)})` : version.superseded_by) : null;
  return [when, replaced].filter(Boolean).join(", ");
}

/** Passages that say the same as a quote: listed, not quoted twice. */
function renderSeeAlso(seeAlso) {
  if (!seeAlso || !seeAlso.length) return null;
  return el("div", { class: "see-also" }, el("h3", {}, t("seeAlso")),
    el("ul", {}, ...seeAlso.map((s) => el("li", {}, `${s.title} · ${s.section} (${s.source})`))));
}

/** Each citation links to the version it quotes (opened in the viewer), with that version's period. */
function renderSources(citations) {
  const list = el("ol", { class: "sources" });
  for (const c of citations) {
    const version = versions.get(c.doc_id) || { valid_from: c.valid_from };
    const when = period(version);
    const meta = el("span", { class: "meta" }, ...[c.section,
      when ? el("span", { class: "period", title: describeVersion(version) }, when) : null,
      version.superseded_by ? el("span", { class: "badge" }, t("supersededByShort")) : null,
      c.source].filter(Boolean).flatMap((part, i) => (i ? [" · ", part] : [part])));
    list.append(el("li", { value: c.n },
      el("a", { class: "source-link", href: `/api/documents/${encodeURIComponent(c.doc_id)}`, "aria-haspopup": "dialog",
        "aria-label": t("openSource", c.n, c.title),
        onclick: (event) => { event.preventDefault(); openCitation(c); } }, c.title),
      meta,
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
  const meta = (version) => [citation.section, describeVersion(version), citation.source].filter(Boolean).join(" · ");
  $("#citation-meta").textContent = meta(versions.get(citation.doc_id) || { valid_from: citation.valid_from });
  let text = null;
  let range = null;
  let reason = "docChanged";
  try {
    const doc = await (await admin(`/api/documents/${encodeURIComponent(citation.doc_id)}`)).json();
    $("#citation-meta").textContent = meta(doc); // the version quoted, as it stands now
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

/** 👍/👎 on an answer; after a 👎 the user may say what was wrong (sent as a 👎 with the comment, so the
 * admins' follow-up shows it beside the answer). */
function feedbackControls(question, auditId) {
  const status = el("span", { class: "hint", role: "status" });
  const post = (rating, comment = "") =>
    request("/api/feedback", { method: "POST", json: { question, rating, comment, audit_id: auditId } });
  const commentId = uniqueId("comment");
  const comment = el("input", { type: "text", id: commentId, maxlength: "2000" });
  const commentForm = el("form", { class: "comment-form", hidden: "" },
    el("label", { for: commentId }, t("commentLabel")),
    el("div", { class: "row" }, comment, el("button", { type: "submit", class: "secondary" }, t("sendComment"))));
  commentForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!comment.value.trim()) return;
    try {
      await post(-1, comment.value.trim());
      commentForm.hidden = true;
      status.textContent = t("commentThanks");
    } catch (error) {
      status.textContent = error.message;
    }
  });
  const send = (rating, button) => async () => {
    try {
      await post(rating);
      for (const b of button.parentNode.querySelectorAll(":scope > button")) b.setAttribute("aria-pressed", String(b === button));
      status.textContent = t("feedbackThanks");
      commentForm.hidden = rating !== -1;
    } catch (error) {
      status.textContent = error.message;
    }
  };
  const up = el("button", { type: "button", "aria-pressed": "false" }, el("span", { "aria-hidden": "true" }, "👍 "), t("helpful"));
  const down = el("button", { type: "button", "aria-pressed": "false" }, el("span", { "aria-hidden": "true" }, "👎 "), t("unhelpful"));
  up.addEventListener("click", send(1, up));
  down.addEventListener("click", send(-1, down));
  return el("div", {}, el("div", { class: "feedback" }, up, down, status), commentForm);
}

/** An answer as the page shows it: the question, the date it is for, its text with [n] markers, warnings,
 * sources and see-also; on the ask tab and in the audit viewer alike. */
function renderAnswer(answer) {
  return [
    el("p", { class: "asked" }, answer.question),
    asOfLine(answer),
    confidenceNote(answer),
    renderAnswerText(answer),
    renderWarnings(answer.warnings),
    answer.citations.length ? el("h3", {}, t("sources")) : null,
    answer.citations.length ? renderSources(answer.citations) : null,
    renderSeeAlso(answer.see_also),
  ];
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
    // an incomplete date never gets here: the browser's form validation stops it with its own message
    const json = { question, history: conversation.slice(-3), as_of: $("#ask-as-of").value || undefined };
    const [response] = await Promise.all([request("/api/ask", { method: "POST", json }), loadVersions()]);
    const answer = await response.json();
    const auditId = Number(response.headers.get("X-Audit-Id")) || null;
    conversation.push({ question: answer.question, answer: answer.answer });
    const turn = el("article", { class: `turn${answer.abstained ? " abstained" : ""}` },
      ...renderAnswer(answer), feedbackControls(answer.question, auditId));
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

let currentDraft = null; // the draft shown, with the team's edits (`edited` per question)
let savedDraft = null; // its record on the server (id, status, approved_role, approved_at, source); null: not saved
let draftDirty = false; // edited since the server last laid out the letter

function renderLetter(letter) {
  const parts = letter.split(PLACEHOLDER);
  const nodes = parts.flatMap((part, i) => (i ? [el("mark", {}, PLACEHOLDER), part] : [part]));
  $("#letter").replaceChildren(...nodes);
}

/** A saved draft's status in words: "udkast", or who approved it (by role) and when. */
function draftStatus(record) {
  return record.status === "approved"
    ? t("statusApproved", record.approved_role, formatTime(record.approved_at)) : t("statusDraft");
}

/** The save, approve and save-as-source buttons and the saved draft's line, for the draft's state now. The
 * letter preview is laid out by the server, so an unsaved edit marks it stale until the draft is saved. */
function updateDraftControls() {
  const approved = savedDraft?.status === "approved";
  $("#approve-draft").disabled = approved && !draftDirty;
  $("#draft-source").hidden = !approved;
  $("#draft-source").disabled = draftDirty;
  $("#copy-letter").disabled = draftDirty;
  $("#letter-stale").hidden = !draftDirty;
  const record = $("#draft-record");
  record.hidden = !savedDraft;
  if (savedDraft) {
    record.replaceChildren(
      el("span", { class: `draft-status ${savedDraft.status}` }, t("draftRecord", savedDraft.id, draftStatus(savedDraft))),
      savedDraft.source ? el("span", { class: "hint" }, ` · ${t("savedAsSource", savedDraft.source)}`) : null);
  }
}

/** The field for one question's answer in the letter: prefilled with what the letter says now; emptied, the
 * bot's quoted answer is used again. */
function answerEditor(item) {
  const id = uniqueId("answer");
  const shown = item.letter_text ?? "";
  const original = item.edited;
  const badge = el("span", { class: "badge", hidden: original === null ? "" : undefined }, t("edited"));
  const field = el("textarea", { id, rows: String(Math.min(12, Math.max(3, Math.ceil(shown.length / 70)))),
    maxlength: "20000", placeholder: t("answerPlaceholder") });
  field.value = shown;
  field.addEventListener("input", () => {
    item.edited = !field.value.trim() ? null : field.value === shown ? original : field.value;
    badge.hidden = item.edited === null;
    draftDirty = true;
    updateDraftControls();
  });
  return el("div", { class: "answer-editor" }, el("label", { for: id }, t("answerLabel", item.n), badge), field);
}

/** Show a draft (new, saved or opened from the list): the letter, and per question its answer to edit, the
 * case worker's notes and the sources. */
function showDraft(draft, record = null) {
  currentDraft = draft;
  savedDraft = record;
  draftDirty = false;
  renderLetter(draft.letter);
  const open = draft.items.filter((item) => item.letter_text === null).length;
  $("#draft-note").textContent = t("draftNote", draft.items.length, open);
  $("#draft-sources").replaceChildren(...draft.items.map((item) => el("div", { class: "draft-item" },
    el("h4", {}, `${t("question", item.n)}: ${item.question}`),
    asOfLine(item.answer),
    renderWarnings(item.answer.warnings), // a note for the case worker: the letter text leaves it out
    answerEditor(item),
    item.answer.citations.length ? renderSources(item.answer.citations) : el("p", { class: "hint" }, t("noSources")))));
  $("#draft-result").hidden = false;
  updateDraftControls();
}

/** Whether the draft on screen may be replaced: no unsaved edits, or the user lets them go. */
const mayReplaceDraft = () => !draftDirty || confirm(t("discardEdits"));

$("#draft-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!mayReplaceDraft()) return;
  const status = $("#draft-status");
  const button = $("#draft-button");
  button.disabled = true;
  setStatus(status, t("drafting"));
  try {
    const json = { inquiry: $("#inquiry").value, include_internal: $("#include-internal").checked,
      as_of: $("#draft-as-of").value || undefined };
    const [response] = await Promise.all([request("/api/draft", { method: "POST", json }), loadVersions()]);
    showDraft(await response.json());
    setStatus($("#draft-save-status"), "");
    setStatus(status, "");
    $("#letter").focus();
  } catch (error) {
    setStatus(status, error.message, "error");
  } finally {
    button.disabled = false;
  }
});

/** Save the draft with its edits (the first time as a new one); the server lays out the letter again. */
async function saveDraft() {
  const json = { draft: currentDraft };
  const response = savedDraft
    ? await request(`/api/drafts/${encodeURIComponent(savedDraft.id)}`, { method: "PUT", json })
    : await request("/api/drafts", { method: "POST", json });
  const record = await response.json();
  showDraft(record.draft, record);
  loadDrafts();
}

/** Run a draft action with its progress in the draft's status line; a refused admin token says where to log in. */
async function draftAction(button, busy, action) {
  const status = $("#draft-save-status");
  button.disabled = true;
  setStatus(status, t(busy));
  try {
    await action(status);
  } catch (error) {
    setStatus(status, error.status === 401 ? t("needsToken") : error.message, "error");
  } finally {
    button.disabled = false;
    updateDraftControls(); // which of them apply now
  }
}

$("#save-draft").addEventListener("click", (event) => draftAction(event.currentTarget, "savingDraft", async (status) => {
  await saveDraft();
  setStatus(status, t("draftSaved"), "ok");
}));

$("#approve-draft").addEventListener("click", () => {
  if (!sessionStorage.getItem(TOKEN_KEY)) {
    setStatus($("#draft-save-status"), t("needsToken"), "error");
    return;
  }
  const dialog = $("#approve-dialog");
  dialog.returnValue = "";
  dialog.showModal();
});

$("#approve-cancel").addEventListener("click", () => $("#approve-dialog").close());

/** Approve what the page shows: unsaved edits are saved first, then approved under the role given. */
$("#approve-dialog").addEventListener("close", () => {
  if ($("#approve-dialog").returnValue !== "approve") return;
  const role = $("#approve-role").value.trim();
  draftAction($("#approve-draft"), "approving", async (status) => {
    if (!savedDraft || draftDirty) await saveDraft();
    const response = await admin(`/api/drafts/${encodeURIComponent(savedDraft.id)}/approve`,
      { method: "POST", json: { role } });
    savedDraft = await response.json();
    setStatus(status, t("approved", savedDraft.approved_role), "ok");
    loadDrafts();
  });
});

/** Save the approved letter as a source and follow the job that ingests it. */
$("#draft-source").addEventListener("click", (event) => draftAction(event.currentTarget, "savingSource", async (status) => {
  const id = encodeURIComponent(savedDraft.id);
  const saved = await (await admin(`/api/drafts/${id}/source`, { method: "POST" })).json();
  const job = await followJob(saved.job, (running) =>
    setStatus(status, t(running.state === "queued" ? "jobQueued" : "sourceRunning", running.id)));
  const failure = jobFailure(job);
  if (failure) {
    setStatus(status, t("sourceFailed", failure), "error");
  } else {
    savedDraft = await (await request(`/api/drafts/${id}`)).json();
    setStatus(status, t("sourceSaved", saved.source), "ok");
  }
  loadDrafts();
}));

/** The saved drafts, newest first: each with its status, who approved it (by role), and its source if saved as one. */
async function loadDrafts() {
  const status = $("#saved-drafts-status");
  try {
    const { drafts } = await (await request("/api/drafts")).json();
    const rows = drafts.map((record) => {
      const title = t("draftTitle", record.greeting, record.questions);
      return el("tr", { "aria-current": record.id === savedDraft?.id ? "true" : undefined },
        el("td", { "data-label": t("colDraft") }, title, el("div", { class: "hint" }, record.id)),
        el("td", { "data-label": t("colStatus") }, el("span", { class: `draft-status ${record.status}` }, draftStatus(record))),
        el("td", { "data-label": t("colSaved"), class: "date" }, formatTime(record.updated)),
        el("td", { "data-label": t("colSource"), class: "file" }, record.source || "–"),
        el("td", {}, el("button", { type: "button", class: "secondary", "aria-label": t("openDraft", `${title} (${record.id})`),
          onclick: () => openDraft(record.id) }, t("open"))));
    });
    $("#saved-draft-list tbody").replaceChildren(
      ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "5" }, t("noSavedDrafts")))]));
    setStatus(status, "");
  } catch (error) {
    setStatus(status, error.message, "error");
  }
}

async function openDraft(id) {
  if (!mayReplaceDraft()) return;
  try {
    const [response] = await Promise.all([request(`/api/drafts/${encodeURIComponent(id)}`), loadVersions()]);
    const record = await response.json();
    showDraft(record.draft, record);
    setStatus($("#draft-save-status"), "");
    loadDrafts(); // marks the open one
    $("#draft-result").scrollIntoView({ block: "start" });
    $("#letter").focus();
  } catch (error) {
    setStatus($("#saved-drafts-status"), error.message, "error");
  }
}

$("#reload-drafts").addEventListener("click", loadDrafts);

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
  const finished = report.finished_at ? t("finishedAt", formatTime(report.finished_at)) : null;
  target.replaceChildren(el("div", { class: "report" },
    el("p", { class: "report-summary" }, summary), finished ? el("p", { class: "hint" }, finished) : null, ...lists));
}

/** Whether a version is in force, and which versions it replaces or was replaced by (title and date). */
function versionStatus(doc, byId) {
  const name = (id) => {
    const other = byId.get(id);
    return other ? `${other.title} (${formatDate(other.valid_from) || other.source})` : id;
  };
  return [el("span", { class: doc.in_force ? "in-force" : "not-in-force" }, t(doc.in_force ? "inForce" : "notInForce")),
    doc.superseded_by ? el("div", { class: "hint" }, t("supersededBy", name(doc.superseded_by))) : null,
    ...(doc.replaces || []).map((id) => el("div", { class: "hint" }, t("replaces", name(id))))];
}

/** Documents in the index (each version with its dates and what supersedes what), then files that are not
 * (e.g. an upload that failed to ingest, with why). */
function renderDocuments(documents, notIndexed = []) {
  const body = $("#documents tbody");
  const byId = new Map(documents.map((doc) => [doc.doc_id, doc]));
  const row = ({ title, source, type = "–", from, to, status = ["–"], chunks = 0, label, path }) => el("tr", {},
    el("td", { "data-label": t("colTitle") }, ...title),
    el("td", { "data-label": t("colFile"), class: "file" }, source),
    el("td", { "data-label": t("colType") }, type),
    el("td", { "data-label": t("colValidFrom"), class: "date" }, from ? el("time", { datetime: from }, from) : "–"),
    el("td", { "data-label": t("colValidTo"), class: "date" }, to ? el("time", { datetime: to }, to) : "–"),
    el("td", { "data-label": t("colStatus") }, ...status),
    el("td", { "data-label": t("colChunks"), class: "num" }, String(chunks)),
    el("td", {}, el("button", { type: "button", class: "danger", "aria-label": t("deleteLabel", label),
      onclick: () => deleteFile(path, label) }, t("delete"))));
  if (!documents.length && !notIndexed.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: "8" }, t("noDocuments"))));
  } else {
    body.replaceChildren(
      ...documents.map((doc) => row({ title: [doc.title], source: doc.source, type: doc.type, from: doc.valid_from,
        to: doc.valid_to, status: versionStatus(doc, byId), chunks: doc.chunks, label: doc.title,
        path: `documents/${encodeURIComponent(doc.doc_id)}` })),
      ...notIndexed.map((file) => row({ title: [t("notIndexed"), file.error ? el("div", { class: "hint" }, file.error) : null],
        source: file.source, label: file.source, path: `files/${file.source.split("/").map(encodeURIComponent).join("/")}` })));
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
  loadTimeline();
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
      await pause(400);
    }
  } catch (error) {
    adminFailed(error);
  } finally {
    following = false;
    button.disabled = false;
    $("#progress-area").hidden = true;
  }
}

// --- rules timeline -----------------------------------------------------------------------------------

let timelineEdited = false; // the admin's unsaved edits survive a reload of the admin tab

/** The timeline in service (entries, unverified ones marked), why the last ingest rejected the file if it
 * did, and the file's text in the editor unless the admin is editing it. */
function renderTimeline({ yaml, entries, error }) {
  const rows = entries.map((change) => el("tr", {},
    el("td", { "data-label": t("colDate") }, el("time", { datetime: change.date }, formatDate(change.date))),
    el("td", { "data-label": t("colAct") }, el("strong", {}, change.act),
      change.verified ? null : el("span", { class: "badge" }, t("unverified")),
      change.note ? el("div", { class: "hint" }, change.note) : null),
    el("td", { "data-label": t("colSummary") }, change.summary),
    el("td", { "data-label": t("colTopics") }, change.topics.join(", "))));
  $("#timeline-entries tbody").replaceChildren(
    ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "4" }, t("timelineEmpty")))]));
  const rejected = $("#timeline-error");
  rejected.textContent = error ? t("timelineRejected", error) : "";
  rejected.hidden = !error;
  if (!timelineEdited) $("#timeline-yaml").value = yaml ?? "";
  if (yaml === null) setStatus($("#timeline-status"), t("timelineNoFile"));
}

/** The timeline section on its own: when it can't be loaded it says why there, and the rest of the tab works. */
async function loadTimeline() {
  try {
    renderTimeline(await (await admin("/api/admin/timeline")).json());
  } catch (error) {
    setStatus($("#timeline-status"), error.message, "error");
  }
}

/** Why a finished job did not do its work: its error, or the documents its ingest failed; "" when it did. */
function jobFailure(job) {
  const failures = (job.report?.failed || []).map((f) => `${f.path}: ${f.error}`).join("; ");
  return job.state === "failed" ? job.error || failures || t("failed") : failures;
}

/** Poll a job until it is done or failed, reporting each state on the way; returns the finished job. */
async function followJob(job, onState) {
  while (job.state === "queued" || job.state === "running") {
    onState(job);
    await pause(400);
    job = await (await admin(`/api/admin/jobs/${encodeURIComponent(job.id)}`)).json();
  }
  return job;
}

$("#timeline-yaml").addEventListener("input", (event) => {
  timelineEdited = true;
  event.target.removeAttribute("aria-invalid");
});

$("#timeline-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const status = $("#timeline-status");
  const button = $("#timeline-save");
  const editor = $("#timeline-yaml");
  button.disabled = true;
  setStatus(status, t("savingTimeline"));
  try {
    const saved = await (await admin("/api/admin/timeline", { method: "PUT", json: { yaml: editor.value } })).json();
    const job = await followJob(saved.job, (running) =>
      setStatus(status, t(running.state === "queued" ? "jobQueued" : "jobRunning", running.id)));
    const failure = jobFailure(job);
    if (failure) {
      setStatus(status, t("timelineFailed", failure), "error");
    } else {
      timelineEdited = false;
      setStatus(status, t("timelineSaved", saved.entries), "ok");
    }
    await loadTimeline();
  } catch (error) {
    if (error.status === 401) return adminFailed(error);
    if (error.status === 422) editor.setAttribute("aria-invalid", "true"); // the entry and the reason
    setStatus(status, error.message, "error");
  } finally {
    button.disabled = false;
  }
});

$("#reingest").addEventListener("click", async () => {
  try {
    await admin("/api/admin/ingest?wait=false", { method: "POST" });
  } catch (error) {
    if (error.status !== 409) return adminFailed(error); // 409: one is running already: follow it
  }
  followIngest();
});

// --- follow-up (Opfølgning) ---------------------------------------------------------------------------

/** A link to an answer in the audit log, opened in the viewer (the API needs the admin token, so not as a page). */
function auditLink(auditId) {
  return el("a", { class: "audit-link", href: `/api/admin/audit/${auditId}`, "aria-haspopup": "dialog",
    "aria-label": t("auditLink", auditId), onclick: (event) => { event.preventDefault(); openAudit(auditId); } },
  t("auditShort", auditId));
}

function number(value, digits = 1) {
  return new Intl.NumberFormat(lang, { maximumFractionDigits: digits }).format(value);
}

/** Minutes as minutes, or as hours from two hours on. */
function duration(minutes) {
  return minutes < 120 ? t("minutes", number(minutes, 0)) : t("hours", number(minutes / 60));
}

function renderMetrics(m) {
  const pairs = [
    ["metricEscalations", String(m.escalations)],
    ["metricOpen", String(m.open)],
    ["metricMedian", m.median_minutes_to_answer === null ? t("noneYet") : duration(m.median_minutes_to_answer)],
    ["metricDeclined", t("declinedShare", number(m.declined_share * 100), m.declined, m.answers)],
  ];
  $("#followup-metrics").replaceChildren(...pairs.map(([key, value]) =>
    el("div", { class: "metric" }, el("dt", {}, t(key)), el("dd", {}, value))));
}

/** An entry's first line: the parts that say what and when, separated by dots. */
const entryHead = (...parts) => el("p", { class: "entry-head" },
  ...parts.filter(Boolean).flatMap((part, i) => (i ? [" · ", part] : [part])));

const emptyEntry = (key) => el("li", { class: "hint" }, t(key));

function escalationEntry(e) {
  return el("li", { class: `entry ${e.state}` },
    entryHead(el("span", { class: `state ${e.state}` }, t(e.state === "open" ? "stateOpen" : "stateAnswered")),
      t(`reason_${e.reason}`), el("time", { datetime: new Date(e.ts * 1000).toISOString() }, formatTime(e.ts))),
    el("p", { class: "entry-question" }, e.question),
    e.reply ? el("div", { class: "reply" }, el("p", { class: "hint" }, t("personReply", formatTime(e.answered_at))),
      el("blockquote", {}, e.reply)) : null,
    e.source ? el("p", { class: "hint" }, t("savedAsSource", e.source)) : null,
    e.audit_id ? el("p", { class: "links" }, auditLink(e.audit_id)) : null);
}

/** Open escalations, then answered ones, each group under its own heading with its count. */
function renderEscalations(escalations) {
  const open = escalations.filter((e) => e.state === "open");
  const answered = escalations.filter((e) => e.state !== "open");
  $("#escalations").replaceChildren(...[["openEscalations", open], ["answeredEscalations", answered]].flatMap(([key, group]) => [
    el("h3", {}, t(key, group.length)),
    el("ol", { class: "entries" }, ...(group.length ? group.map(escalationEntry) : [emptyEntry("noEscalations")]))]));
}

const MAX_LINKS = 10; // audit links shown per gap; the count says how many there are

function renderGaps(gaps) {
  $("#gaps").replaceChildren(...(gaps.length ? gaps.map((gap) => el("li", { class: "entry" },
    entryHead(el("strong", { class: "count" }, t("gapCount", gap.count)), t("latest", formatTime(gap.latest))),
    el("ul", { class: "examples" }, ...gap.questions.map((q) => el("li", {}, q))),
    el("p", { class: "links" }, ...gap.audit_ids.slice(0, MAX_LINKS).flatMap((id, i) => (i ? [", ", auditLink(id)] : [auditLink(id)])),
      gap.audit_ids.length > MAX_LINKS ? ` ${t("moreAnswers", gap.audit_ids.length - MAX_LINKS)}` : null)))
    : [emptyEntry("noGaps")]));
}

/** 👎 per answer: a 👎 and the comment added after it are one entry, with every comment given. */
function renderDoubted(doubted) {
  const byAnswer = new Map();
  for (const d of doubted) {
    const key = d.audit_id ?? `feedback-${d.id}`;
    byAnswer.set(key, [...(byAnswer.get(key) || []), d]);
  }
  const entries = [...byAnswer.values()].map((group) => {
    const latest = group[0]; // the list is newest first
    const comments = group.map((d) => d.comment).filter(Boolean);
    return el("li", { class: "entry" },
      entryHead(latest.channel, el("time", { datetime: new Date(latest.ts * 1000).toISOString() }, formatTime(latest.ts))),
      el("p", { class: "entry-question" }, latest.question),
      ...(comments.length ? comments.map((c) => el("blockquote", { class: "comment" }, c)) : [el("p", { class: "hint" }, t("noComment"))]),
      latest.audit_id ? el("p", { class: "links" }, auditLink(latest.audit_id)) : null);
  });
  $("#doubted").replaceChildren(...(entries.length ? entries : [emptyEntry("noDoubted")]));
}

/** The follow-up tab needs the admin token the Admin tab keeps; without it, it says where to log in. */
async function loadFollowup() {
  const loggedIn = Boolean(sessionStorage.getItem(TOKEN_KEY));
  $("#followup-login").hidden = loggedIn;
  $("#followup-area").hidden = !loggedIn;
  if (!loggedIn) return;
  const status = $("#followup-status");
  try {
    const data = await (await admin("/api/admin/followup")).json();
    renderMetrics(data.metrics);
    renderEscalations(data.escalations);
    renderGaps(data.gaps);
    renderDoubted(data.doubted);
    setStatus(status, "");
  } catch (error) {
    if (error.status === 401) {
      adminFailed(error); // back to the login form, which says why
      $("#followup-login").hidden = false;
      $("#followup-area").hidden = true;
    } else {
      setStatus(status, error.message, "error");
    }
  }
}

/** One answer as the audit log stored it, shown as the asker saw it (its citations open in the viewer). */
async function openAudit(auditId) {
  try {
    const [response] = await Promise.all([admin(`/api/admin/audit/${auditId}`), loadVersions()]);
    const record = await response.json();
    $("#audit-title").textContent = t("auditTitle", record.id);
    $("#audit-meta").textContent = t("auditMeta", formatTime(record.ts), record.channel);
    $("#audit-answer").replaceChildren(el("div", { class: `turn${record.answer.abstained ? " abstained" : ""}` },
      ...renderAnswer(record.answer)));
    $("#audit-dialog").showModal();
    $("#audit-close").focus();
  } catch (error) {
    setStatus($("#followup-status"), error.message, "error");
  }
}

$("#audit-close").addEventListener("click", () => $("#audit-dialog").close());
$("#reload-followup").addEventListener("click", loadFollowup);
$("#followup-to-admin").addEventListener("click", () => {
  selectTab($("#tab-admin"), false);
  $("#admin-token").focus();
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
