// Drives a running strata server with the official openai client and
// prints what it got as one JSON object; the Go test checks it.
// Usage: node client.mjs BASE_URL MODEL
import OpenAI from "openai";

const [baseURL, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL: baseURL + "/v1", apiKey: process.env.STRATA_API_KEY || "none", maxRetries: 0 });
const messages = [
  { role: "system", content: "You tell short stories." },
  { role: "user", content: "Once upon a time" },
];
const out = {};

const models = await client.models.list();
out.models = models.data.map((m) => m.id);

const chat = await client.chat.completions.create({ model, messages, max_tokens: 24, temperature: 0, logprobs: true, top_logprobs: 2 });
out.chat = {
  content: chat.choices[0].message.content,
  finish: chat.choices[0].finish_reason,
  usage: chat.usage,
  logprobTokens: chat.choices[0].logprobs.content.map((t) => t.token),
};

const stream = await client.chat.completions.create({ model, messages, max_tokens: 24, temperature: 0, stream: true, stream_options: { include_usage: true } });
let content = "", finish = null, usage = null, chunks = 0;
for await (const chunk of stream) {
  chunks++;
  if (chunk.usage) usage = chunk.usage;
  const c = chunk.choices[0];
  if (!c) continue;
  if (c.delta.content) content += c.delta.content;
  if (c.finish_reason) finish = c.finish_reason;
}
out.stream = { content, finish, usage, chunks };

// A stop string from the middle of the answer, across token boundaries.
const stop = chat.choices[0].message.content.slice(7, 15);
const stopped = await client.chat.completions.create({ model, messages, max_tokens: 24, temperature: 0, stop: [stop, "never appears"] });
out.stop = { stop, content: stopped.choices[0].message.content, finish: stopped.choices[0].finish_reason, usage: stopped.usage };

const completion = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 16, temperature: 0 });
out.completion = { text: completion.choices[0].text, finish: completion.choices[0].finish_reason, usage: completion.usage };

try {
  await client.chat.completions.create({ model: "no-such-model", messages, max_tokens: 4 });
  out.unknownModel = { status: 200 };
} catch (e) {
  out.unknownModel = { status: e.status, message: e.message };
}

console.log(JSON.stringify(out));
