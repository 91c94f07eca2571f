// Talking to the service: the streaming ask (Server-Sent Events over a POST) and the documents API.
// A server may need an API key: it is kept for this tab only (sessionStorage, never in the URL) and sent as
// `Authorization: Bearer KEY` on every request made here.

const API_KEY_STORAGE = "newsrag.apiKey";

export class ApiError extends Error {
  constructor(message, status, { sentKey = "" } = {}) {
    super(message);
    this.status = status;
    this.sentKey = sentKey; // a 401 with a key sent means that key was refused; without one, that a key is needed
  }

  get unauthorized() {
    return this.status === 401;
  }
}

export function getApiKey() {
  try {
    return sessionStorage.getItem(API_KEY_STORAGE) || "";
  } catch {
    return ""; // storage disabled
  }
}

export function setApiKey(key) {
  try {
    if (key) sessionStorage.setItem(API_KEY_STORAGE, key);
    else sessionStorage.removeItem(API_KEY_STORAGE);
  } catch {
    // storage disabled: nothing to keep the key in
  }
}

// Header values must be visible ASCII; anything else would make fetch() throw before sending.
export function isPlausibleKey(key) {
  return /^[\x21-\x7e]{1,4096}$/.test(key);
}

// fetch() with the key, if one is kept; `sentKey` is the key that went with the request ("" for none).
async function request(url, options = {}) {
  const sentKey = getApiKey();
  const headers = sentKey ? { ...options.headers, authorization: `Bearer ${sentKey}` } : options.headers;
  try {
    return { response: await fetch(url, { ...options, headers }), sentKey };
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError("The server cannot be reached. Is `rag serve` running?", 0);
  }
}

async function errorFrom(response, sentKey) {
  try {
    const body = await response.json();
    return new ApiError(body.detail || `HTTP ${response.status}`, response.status, { sentKey });
  } catch {
    return new ApiError(`The server answered HTTP ${response.status}.`, response.status, { sentKey });
  }
}

// GET /readyz (never needs a key): null when unreachable. `read_requires_key` is missing on older servers.
export async function getReadiness() {
  try {
    const { response } = await request("/readyz");
    return await response.json();
  } catch {
    return null;
  }
}

// POST /v1/ask with stream:true and call handlers per event. EventSource cannot POST, so the stream is read
// with fetch and parsed here. Resolves when `done` arrives; rejects on an `error` event, a non-2xx status,
// a network failure, or a stream that ends without `done` (cut off).
export async function askStream({ question, history, signal }, handlers) {
  const { response, sentKey } = await request("/v1/ask", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify({ question, history, stream: true }),
    signal,
  });
  if (!response.ok) throw await errorFrom(response, sentKey);

  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let finished = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let boundary;
    while ((boundary = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      const event = parseEvent(block);
      if (!event) continue;
      if (event.name === "token") handlers.token(event.data.text, event.data.draft);
      else if (event.name === "citations") handlers.citations(event.data);
      else if (event.name === "done") { handlers.done(event.data); finished = true; }
      else if (event.name === "error") throw new ApiError(event.data.detail, event.data.status, { sentKey });
    }
  }
  if (!finished) throw new ApiError("The answer stream was cut off before it finished.", 0);
}

function parseEvent(block) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue; // keep-alive comment
    if (line.startsWith("event:")) name = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (!data.length) return null;
  return { name, data: JSON.parse(data.join("\n")) };
}

const documentCache = new Map();

export async function getDocument(docId) {
  if (!documentCache.has(docId)) {
    const { response, sentKey } = await request(`/v1/documents/${encodeURIComponent(docId)}`);
    if (!response.ok) throw await errorFrom(response, sentKey);
    documentCache.set(docId, await response.json());
  }
  return documentCache.get(docId);
}

export async function listDocuments() {
  const { response, sentKey } = await request("/v1/documents");
  if (!response.ok) throw await errorFrom(response, sentKey);
  return (await response.json()).documents;
}

// The API counts offsets in Unicode code points (Python); JavaScript strings index UTF-16 units.
export function codePointToIndex(text, offset) {
  let index = 0;
  for (let seen = 0; seen < offset && index < text.length; seen += 1) {
    const code = text.charCodeAt(index);
    index += code >= 0xd800 && code <= 0xdbff ? 2 : 1;
  }
  return index;
}
