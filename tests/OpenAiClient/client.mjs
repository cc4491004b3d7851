// The official openai SDK as an outside client of MeatLizard's /v1: runs one scenario and prints one JSON line with
// what it observed (an SDK error as its class name, status, param and code). Nothing about the answers is assumed here;
// the C# test (tests/Api.Tests/OpenAiSdkTests.cs) judges the line.
//   usage: OPENAI_BASE_URL=http://127.0.0.1:PORT/v1 OPENAI_API_KEY=ml_… MODEL=default node client.mjs <scenario>
import OpenAI from "openai";

const model = process.env.MODEL ?? "default";
const maxRetries = Number(process.env.MAX_RETRIES ?? "2");
let requests = 0;
const client = new OpenAI({
  baseURL: process.env.OPENAI_BASE_URL,
  apiKey: process.env.OPENAI_API_KEY,
  maxRetries,
  timeout: 120_000,
  // Counts what the SDK really sends, its own retries included.
  fetch: (url, init) => { requests++; return fetch(url, init); },
});
const ask = (content, extra = {}) =>
  client.chat.completions.create({ model, messages: [{ role: "user", content }], max_tokens: 16, ...extra });

async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

const scenarios = {
  models: async () => ({ ids: (await client.models.list()).data.map((m) => m.id) }),

  complete: async () => {
    const c = await ask("Hello, who are you?");
    return { object: c.object, content: c.choices[0].message.content, finish: c.choices[0].finish_reason, usage: c.usage };
  },

  stream: async () => {
    const chunks = await collect(await ask("Tell me a story.", { stream: true, stream_options: { include_usage: true } }));
    const withChoice = chunks.filter((c) => c.choices.length > 0);
    return {
      firstRole: withChoice[0]?.choices[0].delta.role ?? null,
      content: withChoice.map((c) => c.choices[0].delta.content ?? "").join(""),
      finish: withChoice.at(-1)?.choices[0].finish_reason ?? null,
      lastChoices: chunks.at(-1).choices.length,
      usage: chunks.at(-1).usage ?? null,
      chunks: chunks.length,
    };
  },

  // The same seeded question twice: free, then stopped at a piece of what it said freely.
  stop: async () => {
    const free = (await ask("Tell me about lizards.", { seed: 11, max_tokens: 24 })).choices[0].message.content;
    const trimmed = free.trim();
    if (trimmed.length < 6) return { free, tooShort: true };
    const stop = trimmed.slice(3, 6);
    const stopped = (await ask("Tell me about lizards.", { seed: 11, max_tokens: 24, stop: [stop] })).choices[0].message.content;
    return { free, stop, stopped };
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
    return { content, finish: c.choices[0].finish_reason, parses };
  },

  n2: async () => ask("Two answers, please.", { n: 2 }),

  // Two at once fill the caller's allowance; the SDK retries the refused ones itself (Retry-After) before giving up.
  ratelimit: async () => {
    const results = await Promise.allSettled([ask("one"), ask("two"), ask("three")]);
    const refused = results.find((r) => r.status === "rejected");
    if (!refused) return { refused: false, requests };
    throw refused.reason;
  },

  // Reads two pieces of a long answer, then closes the connection.
  abort: async () => {
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model, stream: true, max_tokens: 900, messages: [{ role: "user", content: "Count to a thousand." }] },
      { signal: controller.signal });
    let pieces = 0;
    let finish = null;
    try {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta?.content) pieces++;
        finish = chunk.choices[0]?.finish_reason ?? finish;
        if (pieces >= 2) controller.abort();
      }
    } catch (error) {
      if (error?.name !== "AbortError" && error?.constructor?.name !== "APIUserAbortError") throw error;
    }
    // The SDK ends the iteration quietly or with an abort error; either way the stream must not have finished.
    return { pieces, aborted: controller.signal.aborted, finish };
  },

  nostore: async () => {
    const c = await ask("Forget this afterwards.", { store: false });
    return { content: c.choices[0].message.content };
  },

  // A client continuing a conversation sends the whole history again.
  history: async () => {
    const first = (await ask("What is a lizard?")).choices[0].message.content;
    const second = await client.chat.completions.create({
      model,
      max_tokens: 16,
      messages: [
        { role: "user", content: "What is a lizard?" },
        { role: "assistant", content: first },
        { role: "user", content: "And a gecko?" },
      ],
    });
    return { first, second: second.choices[0].message.content };
  },
};

const name = process.argv[2];
try {
  if (!scenarios[name]) throw new Error(`unknown scenario '${name}'`);
  console.log(JSON.stringify({ ok: true, requests, ...(await scenarios[name]()) }));
} catch (error) {
  console.log(JSON.stringify({
    ok: false,
    requests,
    error: error?.constructor?.name ?? "Error",
    status: error?.status ?? null,
    param: error?.param ?? null,
    code: error?.code ?? null,
    message: String(error?.message ?? error),
  }));
}
