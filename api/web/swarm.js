// The swarm page: polls /api/swarm every second; rates come from the
// change of its counters between polls.
"use strict";

let previous = null;

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

// route describes a route's hops: "addr (layers 0-0, id 1a2b…) → …", or
// "local" for a model computed in this process.
function route(hops) {
  if (!hops.length) return "local";
  return hops.map((h) => `${h.addr} (layers ${h.layers}${h.id ? ", " + h.id.slice(0, 12) + "…" : ""})`).join(" → ");
}

function render(s) {
  const names = s.models.map((m) => m.id).join(", ") || "no model loaded";
  document.getElementById("model-name").textContent = names;
  const local = s.peers.length === 0;
  document.getElementById("summary").textContent = local
    ? `${names} ${s.models.length > 1 ? "compute" : "computes"} in this process${s.backend ? ` on ${s.backend} (${s.device})` : ""}; no peers. ${s.slots.length} slot(s), ${s.queued} queued.`
    : `${names} through ${s.peers.length} peer(s), ${s.peers.filter((p) => !p.up).length} down; ${s.slots.length} slot(s), ${s.queued} queued.`;
  const dt = previous ? (s.time - previous.time) / 1000 : 0;
  const before = {};
  if (previous) for (const p of previous.peers) before[p.addr] = p;
  const rows = s.peers.map((p) => {
    const tr = document.createElement("tr");
    tr.dataset.addr = p.addr;
    tr.className = p.up ? "up" : "down";
    const b = before[p.addr];
    const tps = b && dt > 0 ? (p.positions - b.positions) / dt : null;
    tr.append(
      cell(p.up ? "up" : "down" + (p.error ? ": " + p.error : ""), p.up ? "status-up" : "status-down"),
      cell(p.addr, "mono"),
      cell(p.id ? p.id.slice(0, 16) + "…" : "", "mono"),
      cell(p.layers || ""),
      cell([p.backend, p.device].filter(Boolean).join(" / ")),
      cell(p.max_sessions ? `${p.sessions}/${p.max_sessions} sessions, busy ${(p.busy_ms / 1000).toFixed(1)} s` : ""),
      cell(p.up && p.ping_ms ? p.ping_ms.toFixed(2) + " ms" : ""),
      cell(p.batches ? (p.round_trip_ms / p.batches).toFixed(2) + " ms (compute " + (p.compute_ms / p.batches).toFixed(2) + ")" : ""),
      cell(tps === null ? "" : tps.toFixed(1)),
      cell(String(p.batches)),
      cell(p.slots.length ? p.slots.join(", ") : "none"),
    );
    return tr;
  });
  document.querySelector("#peers tbody").replaceChildren(...rows);
  document.querySelector("#requests tbody").replaceChildren(...s.requests.map((q) => {
    const tr = document.createElement("tr");
    tr.dataset.request = q.id;
    tr.append(cell(q.id, "mono"), cell(q.model), cell(String(q.slot)), cell(`${q.prompt_tokens} + ${q.generated}`),
      cell(route(q.route), "mono route"));
    return tr;
  }));
  document.getElementById("no-requests").hidden = s.requests.length > 0;
  document.querySelector("#slots tbody").replaceChildren(...s.slots.map((sl) => {
    const tr = document.createElement("tr");
    tr.append(cell(sl.model), cell(String(sl.slot)), cell(sl.busy ? "busy" : "idle"), cell(sl.request || "", "mono"),
      cell(route(sl.route), "mono"));
    return tr;
  }));
  previous = s;
}

async function poll() {
  try {
    render(await strata.fetchJSON("/api/swarm"));
    strata.showError("");
  } catch (e) {
    strata.showError("swarm: " + e.message);
  }
  setTimeout(poll, 1000);
}

document.addEventListener("DOMContentLoaded", poll);
