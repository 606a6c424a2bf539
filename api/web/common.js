// Shared by the chat and the swarm page: the API key kept in this
// browser, and requests that carry it.
"use strict";

const strata = {
  apiKey() { return localStorage.getItem("strata.apiKey") || ""; },
  setApiKey(k) { localStorage.setItem("strata.apiKey", k); },
  headers(extra) {
    const h = Object.assign({ "Content-Type": "application/json" }, extra || {});
    const k = strata.apiKey();
    if (k) h.Authorization = "Bearer " + k;
    return h;
  },
  // fetchJSON fetches a JSON document and throws the server's message.
  async fetchJSON(url, init) {
    const res = await fetch(url, Object.assign({ headers: strata.headers() }, init || {}));
    const body = await res.json().catch(() => null);
    if (!res.ok) throw new Error((body && body.error && body.error.message) || res.status + " " + res.statusText);
    return body;
  },
  showError(msg) {
    const el = document.getElementById("error");
    el.textContent = msg || "";
    el.hidden = !msg;
  },
};
