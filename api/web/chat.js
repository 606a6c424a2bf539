// The web chat: conversations in localStorage, answers streamed from
// /v1/chat/completions and rendered as Markdown by marked, sanitized by
// DOMPurify.
"use strict";

const $ = (id) => document.getElementById(id);
const settingsFields = ["system", "temperature", "top_p", "top_k", "min_p", "max_tokens", "seed"];

const store = {
  state: JSON.parse(localStorage.getItem("strata.chat") || "null") || { conversations: [], current: null },
  save() { localStorage.setItem("strata.chat", JSON.stringify(store.state)); },
  current() { return store.state.conversations.find((c) => c.id === store.state.current); },
  create() {
    const c = { id: Date.now().toString(36) + Math.random().toString(36).slice(2, 6), title: "New chat", messages: [] };
    store.state.conversations.unshift(c);
    store.state.current = c.id;
    store.save();
    return c;
  },
};

let controller = null; // the answer being streamed

function renderMarkdown(el, text) {
  el.innerHTML = DOMPurify.sanitize(marked.parse(text));
}

function statsText(s) {
  if (!s) return "";
  const parts = [];
  if (s.ttft != null) parts.push("time to first token " + s.ttft.toFixed(0) + " ms");
  if (s.tps != null) parts.push(s.tps.toFixed(1) + " tokens/s");
  if (s.tokens != null) parts.push(s.tokens + " tokens");
  if (s.finish) parts.push(s.finish);
  return parts.join(" · ");
}

function messageElement(m) {
  const div = document.createElement("div");
  div.className = "msg " + m.role;
  if (m.stats) div.dataset.done = "true"; // a finished answer
  const content = document.createElement("div");
  content.className = "content";
  if (m.role === "assistant") renderMarkdown(content, m.content); else content.textContent = m.content;
  div.appendChild(content);
  if (m.role === "assistant") {
    const stats = document.createElement("div");
    stats.className = "stats";
    stats.textContent = statsText(m.stats);
    div.appendChild(stats);
  }
  return div;
}

function renderConversation() {
  const c = store.current();
  const box = $("messages");
  box.replaceChildren(...(c ? c.messages.map(messageElement) : []));
  box.scrollTop = box.scrollHeight;
  const list = $("conversations");
  list.replaceChildren(...store.state.conversations.map((conv) => {
    const li = document.createElement("li");
    li.className = conv.id === store.state.current ? "current" : "";
    const title = document.createElement("span");
    title.textContent = conv.title;
    const del = document.createElement("button");
    del.type = "button";
    del.textContent = "×";
    del.title = "Delete";
    del.onclick = (e) => {
      e.stopPropagation();
      store.state.conversations = store.state.conversations.filter((x) => x.id !== conv.id);
      if (store.state.current === conv.id) store.state.current = store.state.conversations[0] ? store.state.conversations[0].id : null;
      store.save();
      renderConversation();
    };
    li.append(title, del);
    li.onclick = () => { if (!controller) { store.state.current = conv.id; store.save(); renderConversation(); } };
    return li;
  }));
}

function loadSettings() {
  const saved = JSON.parse(localStorage.getItem("strata.settings") || "{}");
  for (const f of settingsFields) if (saved[f] != null) $(f).value = saved[f];
  $("api_key").value = strata.apiKey();
}

function saveSettings() {
  const s = {};
  for (const f of settingsFields) s[f] = $(f).value;
  localStorage.setItem("strata.settings", JSON.stringify(s));
  strata.setApiKey($("api_key").value);
}

function requestBody(c) {
  const msgs = [];
  const system = $("system").value.trim();
  if (system) msgs.push({ role: "system", content: system });
  for (const m of c.messages) msgs.push({ role: m.role, content: m.content });
  const body = { model: $("model").value, messages: msgs, stream: true, stream_options: { include_usage: true } };
  for (const [f, parse] of [["temperature", parseFloat], ["top_p", parseFloat], ["top_k", parseInt], ["min_p", parseFloat], ["max_tokens", parseInt], ["seed", parseInt]]) {
    const v = parse($(f).value);
    if (!Number.isNaN(v)) body[f] = v;
  }
  return body;
}

function setStreaming(on) {
  $("send").hidden = on;
  $("stop").hidden = !on;
  $("input").disabled = on;
}

// send streams an answer to the conversation's last user message.
async function send(text) {
  strata.showError("");
  const c = store.current() || store.create();
  if (c.messages.length === 0) c.title = text.slice(0, 40);
  c.messages.push({ role: "user", content: text });
  const answer = { role: "assistant", content: "", stats: null };
  renderConversation();
  const el = messageElement(answer);
  $("messages").appendChild(el);
  const content = el.querySelector(".content"), statsEl = el.querySelector(".stats");
  controller = new AbortController();
  setStreaming(true);
  const start = performance.now();
  let first = null, last = null, tokens = 0, finish = "", usage = null, pending = false;
  const redraw = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; renderMarkdown(content, answer.content); $("messages").scrollTop = $("messages").scrollHeight; });
  };
  try {
    const res = await fetch("/v1/chat/completions", { method: "POST", headers: strata.headers(), body: JSON.stringify(requestBody(c)), signal: controller.signal });
    if (!res.ok) {
      const b = await res.json().catch(() => null);
      throw new Error((b && b.error && b.error.message) || res.status + " " + res.statusText);
    }
    const reader = res.body.getReader(), decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let at;
      while ((at = buf.indexOf("\n\n")) >= 0) {
        const line = buf.slice(0, at).trim();
        buf = buf.slice(at + 2);
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices && chunk.choices[0];
        if (!choice) continue;
        if (choice.delta && choice.delta.content) {
          const now = performance.now();
          if (first === null) first = now;
          last = now;
          tokens++;
          answer.content += choice.delta.content;
          redraw();
        }
        if (choice.finish_reason) finish = choice.finish_reason;
      }
    }
  } catch (e) {
    if (e.name === "AbortError") finish = "stopped"; else strata.showError(e.message);
  } finally {
    controller = null;
    setStreaming(false);
  }
  const n = usage ? usage.completion_tokens : tokens;
  answer.stats = {
    ttft: first === null ? null : first - start,
    tps: first !== null && last > first && n > 1 ? (n - 1) / ((last - first) / 1000) : null,
    tokens: n, finish,
  };
  renderMarkdown(content, answer.content);
  statsEl.textContent = statsText(answer.stats);
  if (answer.content || finish) c.messages.push(answer); else c.messages.pop();
  store.save();
  renderConversation();
  $("input").focus();
}

async function loadModels() {
  try {
    const list = await strata.fetchJSON("/v1/models");
    $("model").replaceChildren(...list.data.map((m) => {
      const o = document.createElement("option");
      o.value = o.textContent = m.id;
      return o;
    }));
    const saved = localStorage.getItem("strata.model");
    if (saved && list.data.some((m) => m.id === saved)) $("model").value = saved;
  } catch (e) {
    strata.showError("models: " + e.message + (strata.apiKey() ? "" : " (set the API key in Settings)"));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  loadSettings();
  renderConversation();
  loadModels();
  $("model").onchange = () => localStorage.setItem("strata.model", $("model").value);
  $("settings-toggle").onclick = () => { $("settings").hidden = !$("settings").hidden; };
  for (const f of settingsFields.concat(["api_key"])) $(f).onchange = () => { saveSettings(); if (f === "api_key") loadModels(); };
  $("new-chat").onclick = () => { if (!controller) { store.create(); renderConversation(); $("input").focus(); } };
  $("stop").onclick = () => { if (controller) controller.abort(); };
  $("composer").onsubmit = (e) => {
    e.preventDefault();
    const text = $("input").value.trim();
    if (!text || controller) return;
    $("input").value = "";
    send(text);
  };
  $("input").onkeydown = (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("composer").requestSubmit(); }
  };
});
