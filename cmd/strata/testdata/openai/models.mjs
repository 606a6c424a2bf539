// Drives a running `strata server --models-dir` with the official openai
// client: /v1/models, then completions of models A, B and A again (after
// each, the server's /metrics text), then A and B at once, then a model
// too large for the memory budget and one that is not there. Prints one
// JSON object; the Go test checks it.
// Usage: node models.mjs BASE_URL A B TOO_LARGE
import OpenAI from "openai";

const [baseURL, a, b, large] = process.argv.slice(2);
const client = new OpenAI({ baseURL: baseURL + "/v1", apiKey: "none", maxRetries: 0 });
const prompt = "Once upon a time";
const complete = async (model) => {
  const r = await client.completions.create({ model, prompt, max_tokens: 16, temperature: 0 });
  return { model: r.model, text: r.choices[0].text, finish: r.choices[0].finish_reason, usage: r.usage };
};
const refused = async (model) => {
  try {
    await client.completions.create({ model, prompt, max_tokens: 4 });
    return { status: 200 };
  } catch (e) {
    return { status: e.status, message: e.message, code: e.code };
  }
};
const out = { models: (await client.models.list()).data.map((m) => ({ id: m.id, meta: m.meta })), steps: [] };
for (const model of [a, b, a]) {
  const step = await complete(model);
  step.metrics = await (await fetch(baseURL + "/metrics")).text();
  out.steps.push(step);
}
out.together = await Promise.all([complete(a), complete(b)]);
out.large = await refused(large);
out.unknown = await refused("no-such-model.gguf");
console.log(JSON.stringify(out));
