// Talking to the service: the streaming ask (Server-Sent Events over a POST) and the documents API.

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function errorFrom(response) {
  try {
    const body = await response.json();
    return new ApiError(body.detail || `HTTP ${response.status}`, response.status);
  } catch {
    return new ApiError(`The server answered HTTP ${response.status}.`, response.status);
  }
}

// POST /v1/ask with stream:true and call handlers per event. EventSource cannot POST, so the stream is read
// with fetch and parsed here. Resolves when `done` arrives; rejects on an `error` event, a non-2xx status,
// a network failure, or a stream that ends without `done` (cut off).
export async function askStream({ question, history, signal }, handlers) {
  let response;
  try {
    response = await fetch("/v1/ask", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ question, history, stream: true }),
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError("The server cannot be reached. Is `rag serve` running?", 0);
  }
  if (!response.ok) throw await errorFrom(response);

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
      if (event.name === "token") handlers.token(event.data.text);
      else if (event.name === "citations") handlers.citations(event.data);
      else if (event.name === "done") { handlers.done(event.data); finished = true; }
      else if (event.name === "error") throw new ApiError(event.data.detail, event.data.status);
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
    const response = await fetch(`/v1/documents/${encodeURIComponent(docId)}`);
    if (!response.ok) throw await errorFrom(response);
    documentCache.set(docId, await response.json());
  }
  return documentCache.get(docId);
}

export async function listDocuments() {
  const response = await fetch("/v1/documents");
  if (!response.ok) throw await errorFrom(response);
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
