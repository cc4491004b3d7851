// The official openai SDK as an outside client of MeatLizard's /v1: runs one scenario and prints one JSON line with
// what it observed (an SDK error as its class name, status, param and code), then exits 0. Nothing about the answers is
// assumed here; the C# tests (tests/Api.Tests/OpenAiSdkTests.cs, tests/Distributed.Tests/DistributedOpenAiSdkTests.cs)
// judge the line.
//   usage: node client.mjs <scenario> [base URL] [API key]
//   or:    OPENAI_BASE_URL=http://127.0.0.1:PORT/v1 OPENAI_API_KEY=ml_… node client.mjs <scenario>
//   MODEL (default "default") names the model, MAX_RETRIES (default 2) the SDK's own retries, NEXT_BASE_URL (default
//   the base URL) where the history scenario asks its next turn: another API instance, as a load balancer may send it.
import OpenAI from "openai";

const [name, baseURL = process.env.OPENAI_BASE_URL, apiKey = process.env.OPENAI_API_KEY] = process.argv.slice(2);
const model = process.env.MODEL ?? "default";
let requests = 0;
const clientAt = (at) => new OpenAI({
  baseURL: at,
  apiKey,
  maxRetries: Number(process.env.MAX_RETRIES ?? "2"),
  timeout: 120_000,
  // Counts what the SDK really sends, its own retries included.
  fetch: (url, init) => { requests++; return fetch(url, init); },
});
const client = clientAt(baseURL);
const ask = (content, extra = {}) =>
  client.chat.completions.create({ model, messages: [{ role: "user", content }], max_tokens: 16, ...extra });

// One chunk as the test needs to see it: how many choices, the first one's delta and finish reason, the usage.
const seenChunk = (chunk) => ({
  id: chunk.id,
  object: chunk.object,
  choices: chunk.choices.length,
  role: chunk.choices[0]?.delta?.role ?? null,
  content: chunk.choices[0]?.delta?.content ?? null,
  finish: chunk.choices[0]?.finish_reason ?? null,
  usage: chunk.usage ?? null,
});

// Whether text is a JSON document ("complete"), one cut short ("cut": the text ran out before anything was wrong), or
// not JSON at all ("invalid"): an answer cut at max_tokens is still judged by what it holds.
function jsonShape(text) {
  const end = Symbol("end");
  let i = 0;
  const peek = () => { if (i >= text.length) throw end; return text[i]; };
  const take = (allowed) => { const c = peek(); if (!allowed.includes(c)) throw new SyntaxError(c); i++; return c; };
  const ws = () => { while (i < text.length && " \t\n\r".includes(text[i])) i++; };
  const word = (w) => { for (const c of w) take(c); };
  const string = () => {
    take('"');
    for (let c = peek(); c !== '"'; c = peek()) {
      if (c < " ") throw new SyntaxError("control character");
      i++;
      if (c === "\\" && take('"\\/bfnrtu') === "u") for (let k = 0; k < 4; k++) take("0123456789abcdefABCDEF");
    }
    i++;
  };
  const number = () => {
    const start = i;
    while (i < text.length && "+-.eE0123456789".includes(text[i])) i++;
    if (i === text.length) throw end;
    if (!/^-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?$/.test(text.slice(start, i))) throw new SyntaxError("number");
  };
  const list = (close, item) => {
    i++;
    ws();
    if (peek() === close) { i++; return; }
    for (;;) {
      item();
      ws();
      if (take(`,${close}`) === close) return;
      ws();
    }
  };
  const value = () => {
    ws();
    const c = peek();
    if (c === "{") list("}", () => { string(); ws(); take(":"); value(); });
    else if (c === "[") list("]", value);
    else if (c === '"') string();
    else if (c === "t") word("true");
    else if (c === "f") word("false");
    else if (c === "n") word("null");
    else number();
  };
  try {
    value();
    ws();
    return i === text.length ? "complete" : "invalid";
  } catch (error) {
    if (error === end) return "cut";
    return "invalid";
  }
}

async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(seenChunk(chunk));
  return chunks;
}

const scenarios = {
  models: async () => ({ ids: (await client.models.list()).data.map((m) => m.id) }),

  // One model as the SDK retrieves it, with the details the server adds.
  model: async () => {
    const m = await client.models.retrieve(model);
    return { id: m.id, object: m.object, context_length: m.context_length ?? null, capabilities: m.capabilities ?? null };
  },

  // The legacy text completion, whole and streamed.
  "text-complete": async () => {
    const c = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 16 });
    return { id: c.id, object: c.object, text: c.choices[0].text, finish: c.choices[0].finish_reason, usage: c.usage };
  },
  "text-stream": async () => {
    const stream = await client.completions.create({
      model, prompt: "Once upon a time", max_tokens: 16, stream: true, stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) {
      chunks.push({
        object: chunk.object, choices: chunk.choices.length, text: chunk.choices[0]?.text ?? null,
        finish: chunk.choices[0]?.finish_reason ?? null, usage: chunk.usage ?? null,
      });
    }
    return { chunks };
  },

  complete: async () => {
    const c = await ask("Hello, who are you?");
    return {
      id: c.id,
      object: c.object,
      model: c.model,
      role: c.choices[0].message.role,
      content: c.choices[0].message.content,
      finish: c.choices[0].finish_reason,
      usage: c.usage,
    };
  },

  // Every chunk, in order.
  stream: async () => ({
    chunks: await collect(await ask("Tell me a story.", { stream: true, stream_options: { include_usage: true } })),
  }),

  // A longer answer streamed (MAX_TOKENS, default 200): each piece of text as it came (its length, and the ms since
  // the request), to see whether the answer arrived in pieces or all at once. With READ_MS, reading stops that long
  // after the first piece (cut: true; leaving the loop aborts the request), so the answer is read for a while however
  // fast or slow the model writes. Also a sample of the model's characters per token.
  pieces: async () => {
    const started = performance.now();
    const readFor = process.env.READ_MS ? Number(process.env.READ_MS) : Infinity;
    const stream = await ask("Tell me a long story.", {
      stream: true, max_tokens: Number(process.env.MAX_TOKENS ?? "200"), stream_options: { include_usage: true },
    });
    const pieces = [];
    let finish = null;
    let usage = null;
    let cut = false;
    for await (const chunk of stream) {
      const content = chunk.choices[0]?.delta?.content;
      if (content) pieces.push({ at: Math.round(performance.now() - started), length: content.length });
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
      if (pieces.length > 0 && finish === null && performance.now() - started - pieces[0].at >= readFor) {
        cut = true;
        break;
      }
    }
    // How many characters a token of this model's answers takes (the test judges a piece's size in tokens): from the
    // answer itself when it was read to the end, else from a short answer to the same question.
    let sample = { chars: pieces.reduce((sum, p) => sum + p.length, 0), tokens: usage?.completion_tokens ?? 0 };
    if (cut) {
      const whole = await ask("Tell me a long story.", { max_tokens: 32 });
      sample = { chars: whole.choices[0].message.content?.length ?? 0, tokens: whole.usage?.completion_tokens ?? 0 };
    }
    return { pieces, finish, usage, cut, sample };
  },

  // The SDK's own stream helper, which builds the whole completion from the chunks and checks them as it goes.
  "stream-helper": async () => {
    const stream = client.chat.completions.stream({
      model, max_tokens: 16, messages: [{ role: "user", content: "Tell me a story." }],
      stream_options: { include_usage: true },
    });
    const c = await stream.finalChatCompletion();
    return {
      role: c.choices[0].message.role,
      content: c.choices[0].message.content,
      finish: c.choices[0].finish_reason,
      usage: c.usage ?? null,
    };
  },

  // The same seeded question twice: free, then stopped at a piece of what it said freely.
  stop: async () => {
    const free = (await ask("Tell me about lizards.", { seed: 11, max_tokens: 24 })).choices[0].message.content;
    const trimmed = free.trim();
    if (trimmed.length < 6) return { free, tooShort: true };
    const stop = trimmed.slice(3, 6);
    const stopped = await ask("Tell me about lizards.", { seed: 11, max_tokens: 24, stop: [stop] });
    return { free, stop, stopped: stopped.choices[0].message.content, finish: stopped.choices[0].finish_reason };
  },

  length: async () => {
    const c = await ask("Write a long essay about deserts.", { max_tokens: 3 });
    return { finish: c.choices[0].finish_reason, completionTokens: c.usage.completion_tokens };
  },

  json: async () => {
    const c = await ask("Describe a lizard as JSON.", { max_tokens: 64, response_format: { type: "json_object" } });
    const content = c.choices[0].message.content;
    let parses = false;
    try { JSON.parse(content); parses = true; } catch { /* judged by the test */ }
    return { content, finish: c.choices[0].finish_reason, parses, shape: jsonShape(content) };
  },

  // A schema the grammar bounds (a short name, an integer, a colour of three): the answer must finish within the
  // tokens allowed and be valid under it.
  schema: async () => {
    const schema = {
      type: "object",
      properties: {
        name: { type: "string", minLength: 1, maxLength: 8 },
        legs: { type: "integer" },
        colour: { enum: ["green", "brown", "grey"] },
      },
      required: ["name", "legs", "colour"],
      additionalProperties: false,
    };
    const c = await ask("Describe a lizard as JSON.", {
      max_tokens: 160,
      response_format: { type: "json_schema", json_schema: { name: "lizard", schema, strict: true } },
    });
    return { content: c.choices[0].message.content, finish: c.choices[0].finish_reason };
  },

  n2: async () => ask("Two answers, please.", { n: 2 }),

  "unknown-model": async () => ask("Hello?", { model: "no-such-model" }),

  // Three at once overrun an allowance of one; the SDK sends the refused ones again itself (after the Retry-After it
  // was told) before giving up.
  ratelimit: async () => {
    const results = await Promise.allSettled([ask("one"), ask("two"), ask("three")]);
    const refused = results.find((r) => r.status === "rejected");
    if (!refused) return { refused: false };
    throw refused.reason;
  },

  // Reads two pieces of a long answer, then aborts the request, which closes the connection.
  abort: async () => {
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model, stream: true, max_tokens: 4000, messages: [{ role: "user", content: "Count to a thousand." }] },
      { signal: controller.signal });
    let id = null;
    let pieces = 0;
    let finish = null;
    try {
      for await (const chunk of stream) {
        id = chunk.id;
        if (chunk.choices[0]?.delta?.content) pieces++;
        finish = chunk.choices[0]?.finish_reason ?? finish;
        if (pieces >= 2) controller.abort();
      }
    } catch (error) {
      if (!(error instanceof OpenAI.APIUserAbortError) && error?.name !== "AbortError") throw error;
    }
    // The SDK ends the iteration quietly or with an abort error; either way the stream must not have finished.
    return { id, pieces, aborted: controller.signal.aborted, finish };
  },

  nostore: async () => {
    const c = await ask("Forget this afterwards.", { store: false });
    return { content: c.choices[0].message.content, finish: c.choices[0].finish_reason };
  },

  // The SDK's tool runner: it sends the tools, runs the function the model calls with the arguments it parsed, sends
  // the result back and returns the model's last answer. STREAM=1 runs it streamed (the SDK gathers the tool-call
  // deltas itself).
  tools: async () => {
    const calls = [];
    const runner = client.chat.completions.runTools({
      model,
      max_tokens: 64,
      stream: process.env.STREAM === "1",
      messages: [{ role: "user", content: "What is the weather in Oslo?" }],
      tools: [{
        type: "function",
        function: {
          name: "get_weather",
          description: "The weather in a city",
          parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
          parse: JSON.parse,
          function: (args) => { calls.push(args); return { city: args.city, sky: "clear" }; },
        },
      }],
    });
    const content = await runner.finalContent();
    return {
      content,
      calls,
      roles: runner.messages.map((m) => m.role),
      toolCallIds: runner.messages.flatMap((m) => (m.tool_calls ?? []).map((c) => c.id)),
      finishes: runner.allChatCompletions().map((c) => c.choices[0].finish_reason),
    };
  },

  // Embeddings as floats, as base64 (the SDK hands that string over as it came), and as the SDK asks when it is not
  // told (base64 on the wire, floats to the caller); then dimensions the model does not take (its error).
  embeddings: async () => {
    const input = ["hello world", "a lizard basks in the sun", "hello world"];
    const floats = await client.embeddings.create({ model, input, encoding_format: "float" });
    const base64 = await client.embeddings.create({ model, input: "hello world", encoding_format: "base64" });
    const byDefault = await client.embeddings.create({ model, input: "hello world" });
    const decode = (text) => {
      const bytes = Buffer.from(text, "base64");
      return Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
    };
    let refused = null;
    try {
      await client.embeddings.create({ model, input: "x", dimensions: 3 });
    } catch (error) {
      refused = { error: error?.constructor?.name ?? "Error", status: error?.status ?? null, param: error?.param ?? null };
    }
    return {
      object: floats.object,
      model: floats.model,
      usage: floats.usage,
      data: floats.data.map((d) => ({ object: d.object, index: d.index, embedding: d.embedding })),
      base64Type: typeof base64.data[0].embedding,
      base64: typeof base64.data[0].embedding === "string" ? decode(base64.data[0].embedding) : base64.data[0].embedding,
      byDefault: byDefault.data[0].embedding,
      refused,
    };
  },

  // An image with the question, as OpenAI's docs show it: a text part and an image_url part holding a data: URL
  // (IMAGE, the URL itself). Refused by a model that takes no images: the error's param names the part.
  image: async () => {
    const answer = await client.chat.completions.create({
      model,
      max_tokens: 16,
      messages: [{
        role: "user",
        content: [
          { type: "text", text: "What is in this picture?" },
          { type: "image_url", image_url: { url: process.env.IMAGE, detail: "low" } },
        ],
      }],
    });
    return { content: answer.choices[0].message.content, finish: answer.choices[0].finish_reason };
  },

  // A client continuing a conversation sends the whole history again.
  history: async () => {
    const question = "What is a lizard?";
    const first = (await ask(question)).choices[0].message.content;
    const next = "And a gecko?";
    const second = await (process.env.NEXT_BASE_URL ? clientAt(process.env.NEXT_BASE_URL) : client).chat.completions.create({
      model,
      max_tokens: 16,
      messages: [{ role: "user", content: question }, { role: "assistant", content: first }, { role: "user", content: next }],
    });
    return { question, first, next, second: second.choices[0].message.content };
  },
};

let line;
try {
  if (!scenarios[name]) throw new Error(`unknown scenario '${name}'`);
  const seen = await scenarios[name]();
  line = { ok: true, requests, ...seen };
} catch (error) {
  line = {
    ok: false,
    requests,
    error: error?.constructor?.name ?? "Error",
    status: error?.status ?? null,
    param: error?.param ?? null,
    code: error?.code ?? null,
    message: String(error?.message ?? error),
  };
}
console.log(JSON.stringify(line));
