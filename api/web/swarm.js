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

function render(s) {
  document.getElementById("model-name").textContent = s.model;
  const local = s.peers.length === 0;
  document.getElementById("summary").textContent = local
    ? `${s.model} computes in this process on ${s.backend} (${s.device}); no peers. ${s.slots.length} slot(s), ${s.queued} queued.`
    : `${s.model} through ${s.peers.length} peer(s), ${s.peers.filter((p) => !p.up).length} down; ${s.slots.length} slot(s), ${s.queued} queued.`;
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
  document.querySelector("#slots tbody").replaceChildren(...s.slots.map((sl) => {
    const tr = document.createElement("tr");
    tr.append(cell(String(sl.slot)), cell(sl.busy ? "busy" : "idle"), cell(sl.request || "", "mono"),
      cell(sl.route.length ? sl.route.join(" → ") : "local", "mono"));
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
