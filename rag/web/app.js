// The chat page: a thread of questions and streamed answers whose citation chips open the cited passage.
// Every piece of corpus text, answer and question is untrusted: it is only ever set with textContent.

import {
  ApiError, askStream, codePointToIndex, getApiKey, getDocument, getReadiness, isPlausibleKey, listDocuments, setApiKey,
} from "./api.js";

const STORAGE_KEY = "newsrag.chat.v1";
const HISTORY_TURNS = 6; // earlier exchanges sent with a follow-up question
const KEY_NEEDED = "This server needs an API key.";
const KEY_REFUSED = "That key was not accepted.";
const EXAMPLES = [
  "Who did Ammar Hakim meet in Baghdad?",
  "Why was Kadhimi's visit to Riyadh postponed?",
  "Where did Iran's acting foreign minister go on the second day of his trip?",
  "What is the population of Baghdad?",
];

const $ = (id) => document.getElementById(id);
const ui = {
  thread: $("thread"), welcome: $("welcome"), examples: $("examples"), form: $("composer"), input: $("question"),
  send: $("send"), stop: $("stop"), newChat: $("new-chat"), sourcePanel: $("source-panel"),
  sourceTitle: $("source-title"), sourceMeta: $("source-meta"), sourceText: $("source-text"),
  closeSource: $("close-source"), docsPanel: $("docs-panel"), docList: $("doc-list"), openDocs: $("open-docs"),
  closeDocs: $("close-docs"), scrim: $("scrim"), keyNotice: $("key-notice"), keyForm: $("key-form"),
  keyInput: $("api-key"), keyError: $("key-error"),
};

let turns = load();
let controller = null; // AbortController of the answer being streamed
let lastTrigger = null; // element to give focus back to when a panel closes
let afterKey = null; // what to do again once a key is entered (the request that was refused)

function load() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || "[]");
    // An answer that was streaming when the page went away did not finish: show it as cut off.
    return saved.map((t) => (t.status === "streaming" ? { ...t, status: "error", error: "The page was reloaded before this answer finished." } : t));
  } catch {
    return [];
  }
}

function save() {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(turns));
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// ---- rendering -------------------------------------------------------------------------------------

function render() {
  ui.welcome.hidden = turns.length > 0;
  ui.thread.replaceChildren(...turns.map(renderTurn));
}

function renderTurn(turn, index) {
  const item = el("li", "turn");
  item.dataset.index = String(index);
  item.append(el("p", "question", turn.question));
  const answer = el("article", "answer");
  answer.setAttribute("aria-label", `Answer ${index + 1}`);
  const label = el("p", "answer-label");
  const text = el("p", "answer-text");
  answer.append(label, text);

  if (turn.status === "streaming" && turn.preliminary) {
    // The extractive answer, shown while the LLM writes; the model's checked answer replaces it.
    const quick = turn.preliminary;
    answer.classList.add("answer--preliminary");
    answer.setAttribute("aria-busy", "true");
    label.textContent = quick.answered ? "Quick answer · the model is checking…" : "Not in the corpus · the model is checking…";
    if (quick.answered) fillWithChips(text, quick.answer, quick.citations, quick.answerSpan);
    else text.textContent = quick.answer;
    const draft = el("p", "answer-draft", turn.draft || "");
    draft.setAttribute("aria-live", "polite");
    answer.append(draft);
    if (quick.answered) answer.append(renderSources(quick.citations, quick.answerSpan));
  } else if (turn.status === "streaming") {
    answer.classList.add("answer--streaming");
    answer.setAttribute("aria-busy", "true");
    label.textContent = "Answering…";
    text.setAttribute("aria-live", "polite");
    text.textContent = turn.answer;
  } else if (turn.status === "error") {
    answer.classList.add("answer--error");
    label.textContent = turn.needsKey ? "API key needed" : "Something went wrong";
    text.textContent = turn.error;
    const actions = el("div", "answer-actions");
    const retry = el("button", "button button--small retry", "Retry");
    retry.type = "button";
    retry.addEventListener("click", () => ask(turn.question, index));
    actions.append(retry);
    answer.append(actions);
  } else if (!turn.answered) {
    answer.classList.add("answer--none");
    label.textContent = "Not in the corpus";
    text.textContent = turn.answer;
  } else {
    label.textContent = turn.label || "Answer";
    fillWithChips(text, turn.answer, turn.citations, turn.answerSpan);
    answer.append(renderSources(turn.citations, turn.answerSpan), renderActions(turn));
  }
  item.append(answer);
  return item;
}

// Inline markers "[n]" become buttons, a leading short answer is set in bold; everything else stays text nodes.
function fillWithChips(container, answer, citations, answerSpan) {
  const byMarker = new Map(citations.map((c) => [c.marker, c]));
  const pattern = /\[(\d+)\]/g;
  let cursor = 0;
  const lead = answerSpan && answer.indexOf(" — ");
  if (lead > 0) {
    container.append(el("strong", "answer-short", answer.slice(0, lead)));
    cursor = lead;
  }
  for (const match of answer.matchAll(pattern)) {
    const citation = byMarker.get(Number(match[1]));
    if (!citation || match.index < cursor) continue;
    container.append(document.createTextNode(answer.slice(cursor, match.index)));
    container.append(chip(citation, answerSpan));
    cursor = match.index + match[0].length;
  }
  container.append(document.createTextNode(answer.slice(cursor)));
}

function chip(citation, answerSpan) {
  const button = el("button", "chip", String(citation.marker));
  button.type = "button";
  button.setAttribute("aria-label", `Citation ${citation.marker}: ${citation.title}`);
  button.setAttribute("aria-pressed", "false");
  const inside = answerSpan && answerSpan.marker === citation.marker ? answerSpan : null;
  button.addEventListener("click", () => openSource(citation, button, inside));
  return button;
}

function renderSources(citations, answerSpan) {
  const list = el("ul", "sources");
  list.setAttribute("aria-label", "Sources used");
  for (const citation of citations) {
    const item = el("li", "source");
    const doc = el("span", "source-doc", citation.title || citation.doc_id);
    doc.title = citation.title;
    item.append(chip(citation, answerSpan), el("span", "source-quote", `“${citation.text.replace(/\s+/g, " ")}”`), doc);
    list.append(item);
  }
  return list;
}

function renderActions(turn) {
  const actions = el("div", "answer-actions");
  const copy = el("button", "button button--small copy", "Copy answer");
  copy.type = "button";
  copy.addEventListener("click", async () => {
    await copyText(withFootnotes(turn));
    copy.textContent = "Copied";
    setTimeout(() => { copy.textContent = "Copy answer"; }, 1500);
  });
  actions.append(copy);
  if (turn.timings?.total) actions.append(el("span", "answer-meta", `${Math.round(turn.timings.total)} ms · ${turn.backend}`));
  return actions;
}

function withFootnotes(turn) {
  const notes = turn.citations.map((c) => `[${c.marker}] ${c.title} (${c.doc_id}, chars ${c.start}–${c.end}): "${c.text}"`);
  return `${turn.answer}\n\n${notes.join("\n")}`;
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Clipboard API refused (no permission, insecure context): fall back to a selected textarea.
    const area = el("textarea");
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
}

// ---- asking ------------------------------------------------------------------------------------------

function historyBefore(index) {
  const history = [];
  for (const turn of turns.slice(0, index).filter((t) => t.status === "done").slice(-HISTORY_TURNS)) {
    history.push({ role: "user", content: turn.question }, { role: "assistant", content: turn.answer });
  }
  return history;
}

function setBusy(busy) {
  ui.input.disabled = busy;
  ui.send.hidden = busy;
  ui.stop.hidden = !busy;
  if (!busy) ui.input.focus();
}

async function ask(question, replaceIndex) {
  const index = Math.min(replaceIndex ?? turns.length, turns.length);
  const turn = { question, answer: "", answered: false, citations: [], status: "streaming" };
  turns[index] = turn;
  save();
  render();
  scrollToTurn(index);
  controller = new AbortController();
  setBusy(true);
  const streaming = () => ui.thread.querySelector(`[data-index="${index}"] .answer-text`);
  let unauthorized = null; // a 401: ask for a key once the turn is shown
  try {
    await askStream({ question, history: historyBefore(index), signal: controller.signal }, {
      token(text, draft) {
        if (turn.preliminary) { // the quick answer stays as it is until the final one replaces it
          if (!draft) return;
          turn.draft = (turn.draft || "") + text;
          const node = ui.thread.querySelector(`[data-index="${index}"] .answer-draft`);
          if (node) node.textContent = turn.draft;
          return;
        }
        turn.answer += text;
        const node = streaming();
        if (node) node.textContent = turn.answer;
      },
      citations(data) {
        if (data.stage === "extractive") {
          turn.preliminary = { answer: data.answer, answered: data.answered, citations: data.citations, answerSpan: data.answer_span };
          render();
          return;
        }
        delete turn.preliminary;
        delete turn.draft;
        Object.assign(turn, {
          answer: data.answer,
          answered: data.answered,
          citations: data.citations,
          answerSpan: data.answer_span,
          backend: data.backend,
        });
      },
      done(data) {
        turn.timings = data.timings_ms;
        turn.status = "done";
      },
    });
  } catch (error) {
    const quick = turn.preliminary;
    const needsKey = error instanceof ApiError && error.unauthorized;
    if (quick?.answered && !needsKey) {
      // The model failed or was stopped after the quick answer showed: keep that answer, it is cited and checked.
      const why = error.name === "AbortError" ? "stopped before the model finished" : "the model did not finish";
      Object.assign(turn, {
        answer: quick.answer, answered: true, citations: quick.citations, answerSpan: quick.answerSpan,
        backend: "extractive", status: "done", label: `Quick answer (${why})`,
      });
    } else {
      turn.status = "error";
      turn.error = error.name === "AbortError" ? "Stopped before the answer finished." : describe(error);
      turn.needsKey = needsKey;
      if (turn.needsKey) unauthorized = error;
    }
  } finally {
    delete turn.preliminary; // only ever shown while streaming: never saved
    delete turn.draft;
    controller = null;
    save();
    render();
    scrollToTurn(index);
    setBusy(false);
  }
  if (unauthorized) askForKey(unauthorized, () => ask(question, index));
}

function describe(error) {
  if (error instanceof ApiError && error.unauthorized) return error.sentKey ? KEY_REFUSED : KEY_NEEDED;
  if (error instanceof ApiError) return error.status ? `${error.message} (HTTP ${error.status})` : error.message;
  return `Unexpected error: ${error.message}`;
}

function scrollToTurn(index) {
  ui.thread.querySelector(`[data-index="${index}"]`)?.scrollIntoView({ block: "end", behavior: "smooth" });
}

// ---- API key -----------------------------------------------------------------------------------------

// After a 401: show the key notice and move focus to its input; `retry` runs once a key is entered. A refused
// key is forgotten so that it is not sent again.
function askForKey(error, retry) {
  if (error.sentKey && error.sentKey === getApiKey()) setApiKey("");
  afterKey = retry;
  showKeyNotice(error.sentKey ? KEY_REFUSED : "");
  focusKeyInput();
}

// The notice sits just above the sticky composer: scroll to the page's end so that the composer does not cover it.
function focusKeyInput() {
  window.scrollTo({ top: document.documentElement.scrollHeight });
  ui.keyInput.focus({ preventScroll: true });
}

function showKeyNotice(problem) {
  ui.keyNotice.hidden = false;
  ui.keyError.textContent = problem;
  ui.keyError.hidden = !problem;
  if (problem) ui.keyInput.setAttribute("aria-invalid", "true");
  else ui.keyInput.removeAttribute("aria-invalid");
}

function hideKeyNotice() {
  ui.keyNotice.hidden = true;
  ui.keyError.textContent = "";
  ui.keyError.hidden = true;
  ui.keyInput.removeAttribute("aria-invalid");
}

function saveKey() {
  const key = ui.keyInput.value.trim();
  if (!isPlausibleKey(key)) {
    showKeyNotice("An API key is letters, digits and punctuation, without spaces.");
    focusKeyInput();
    return;
  }
  setApiKey(key);
  ui.keyInput.value = "";
  hideKeyNotice();
  const retry = afterKey;
  afterKey = null;
  if (retry && !controller) retry();
  else ui.input.focus();
}

// Before the first question: a server that says it needs a key for reading gets one asked for up front.
// Older servers do not send `read_requires_key`; that counts as not needed.
async function checkServerNeedsKey() {
  const ready = await getReadiness();
  if (ready?.read_requires_key !== true || getApiKey() || !ui.keyNotice.hidden) return;
  const untouched = document.activeElement === ui.input && !ui.input.value;
  showKeyNotice("");
  if (untouched || document.activeElement === document.body) focusKeyInput();
}

// ---- panels ------------------------------------------------------------------------------------------

function showPanel(panel, trigger) {
  for (const other of [ui.sourcePanel, ui.docsPanel]) other.hidden = other !== panel;
  ui.scrim.hidden = false;
  lastTrigger = trigger;
}

function closePanels() {
  ui.sourcePanel.hidden = true;
  ui.docsPanel.hidden = true;
  ui.scrim.hidden = true;
  for (const pressed of document.querySelectorAll('.chip[aria-pressed="true"]')) pressed.setAttribute("aria-pressed", "false");
  lastTrigger?.focus();
  lastTrigger = null;
}

// The cited span is highlighted in its article; the short answer inside it is marked again, more strongly.
async function openSource(citation, trigger, answerSpan) {
  for (const pressed of document.querySelectorAll('.chip[aria-pressed="true"]')) pressed.setAttribute("aria-pressed", "false");
  trigger.setAttribute("aria-pressed", "true");
  showPanel(ui.sourcePanel, trigger);
  ui.sourceTitle.textContent = citation.title || citation.doc_id;
  ui.sourceMeta.textContent = "Loading…";
  ui.sourceText.replaceChildren();
  let doc;
  try {
    doc = await getDocument(citation.doc_id);
  } catch (error) {
    ui.sourceMeta.textContent = describe(error);
    if (error instanceof ApiError && error.unauthorized) {
      closePanels();
      askForKey(error, () => openSource(citation, trigger, answerSpan));
    }
    return;
  }
  ui.sourceTitle.textContent = doc.title;
  ui.sourceMeta.textContent = [doc.source || doc.agency, doc.place, doc.date, doc.author, doc.doc_id].filter(Boolean).join(" · ");
  const start = codePointToIndex(doc.text, citation.start);
  const end = codePointToIndex(doc.text, citation.end);
  const mark = el("mark", "");
  mark.id = "cited-span";
  const spanStart = answerSpan ? codePointToIndex(doc.text, answerSpan.start) : -1;
  const spanEnd = answerSpan ? codePointToIndex(doc.text, answerSpan.end) : -1;
  if (answerSpan && start <= spanStart && spanEnd <= end) {
    const short = el("strong", "answer-span", doc.text.slice(spanStart, spanEnd));
    short.id = "answer-span";
    mark.append(document.createTextNode(doc.text.slice(start, spanStart)), short, document.createTextNode(doc.text.slice(spanEnd, end)));
  } else {
    mark.textContent = doc.text.slice(start, end);
  }
  ui.sourceText.replaceChildren(document.createTextNode(doc.text.slice(0, start)), mark, document.createTextNode(doc.text.slice(end)));
  mark.scrollIntoView({ block: "center" });
  ui.closeSource.focus({ preventScroll: true });
}

async function openDocuments(trigger) {
  showPanel(ui.docsPanel, trigger);
  ui.docList.replaceChildren(el("li", "doc-meta", "Loading…"));
  try {
    const docs = await listDocuments();
    ui.docList.replaceChildren(...docs.map((doc) => {
      const item = el("li", "doc");
      const meta = [doc.source || doc.agency, doc.place, doc.date, `${doc.passage_count} passages`].filter(Boolean).join(" · ");
      item.append(el("p", "doc-title", doc.title), el("p", "doc-meta", meta));
      return item;
    }));
    ui.docsPanel.querySelector("h2").textContent = `Documents (${docs.length})`;
  } catch (error) {
    ui.docList.replaceChildren(el("li", "doc-meta", describe(error)));
    if (error instanceof ApiError && error.unauthorized) {
      closePanels();
      askForKey(error, () => openDocuments(trigger));
      return;
    }
  }
  ui.closeDocs.focus({ preventScroll: true });
}

// ---- wiring ------------------------------------------------------------------------------------------

function submit() {
  const question = ui.input.value.trim();
  if (!question || controller) return;
  ui.input.value = "";
  autosize();
  ask(question);
}

function autosize() {
  ui.input.style.height = "auto";
  ui.input.style.height = `${Math.min(ui.input.scrollHeight, 200)}px`;
}

ui.form.addEventListener("submit", (event) => { event.preventDefault(); submit(); });
ui.input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); submit(); }
});
ui.input.addEventListener("input", autosize);
ui.stop.addEventListener("click", () => controller?.abort());
ui.newChat.addEventListener("click", () => {
  controller?.abort();
  afterKey = null;
  turns = [];
  save();
  closePanels();
  render();
  ui.input.focus();
});
ui.openDocs.addEventListener("click", () => openDocuments(ui.openDocs));
ui.keyForm.addEventListener("submit", (event) => { event.preventDefault(); saveKey(); });
ui.closeSource.addEventListener("click", closePanels);
ui.closeDocs.addEventListener("click", closePanels);
ui.scrim.addEventListener("click", closePanels);
document.addEventListener("keydown", (event) => { if (event.key === "Escape") closePanels(); });

for (const example of EXAMPLES) {
  const button = el("button", "button example", example);
  button.type = "button";
  button.addEventListener("click", () => ask(example));
  ui.examples.append(button);
}

render();
ui.input.focus();
checkServerNeedsKey();
