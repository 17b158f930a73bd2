// The dashboard's pages: a hash router over the /ui/api JSON endpoints. No build step.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const view = document.getElementById("view");
  const status = document.getElementById("status");
  let timer = null;
  let charts = [];

  function el(tag, attrs, ...kids) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v);
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid !== null && kid !== undefined) node.append(kid instanceof Node ? kid : String(kid));
    }
    return node;
  }

  async function api(path, opts) {
    const init = Object.assign({ headers: {} }, opts || {});
    init.headers["x-csrf-token"] = csrf;
    const res = await fetch("/ui/api/" + path, init);
    if (res.status === 401) { location.href = "/ui/login"; throw new Error("logged out"); }
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      const msg = body && body.error ? body.error.message : res.statusText;
      throw new Error(msg);
    }
    return body;
  }

  const fmt = (n) => (n === null || n === undefined ? "-" : Number(n).toLocaleString());
  const ms = (n) => (n === null || n === undefined ? "-" : Math.round(n).toLocaleString() + " ms");
  const when = (ts) => new Date(ts * 1000).toLocaleString();
  const pct = (x) => (x * 100).toFixed(1) + "%";

  function table(caption, cols, rows) {
    return el("table", {},
      el("caption", { class: "skip", text: caption }),
      el("thead", {}, el("tr", {}, cols.map((c) => el("th", { scope: "col", class: c.num ? "num" : null, text: c.label })))),
      el("tbody", {}, rows.map((r) => el("tr", {}, cols.map((c) => {
        const v = c.get(r);
        return el("td", { class: c.num ? "num" : null }, v instanceof Node ? v : String(v));
      })))));
  }

  // -- overview --------------------------------------------------------------------------
  function chart(title, series, data) {
    const fig = el("figure", { role: "group", "aria-label": title }, el("figcaption", { text: title }));
    const box = el("div", { class: "plot" });
    fig.append(box);
    const palette = ["#0b57d0", "#b3261e", "#146c2e", "#8e4ec6", "#a15c00"];
    const opts = {
      width: 400, height: 200,
      series: [{}].concat(series.map((name, i) => ({ label: name, stroke: palette[i % palette.length], width: 2 }))),
      axes: [{}, { size: 60 }],
    };
    // Drawn after insertion so uPlot can measure; kept for teardown.
    requestAnimationFrame(() => {
      opts.width = Math.max(280, box.clientWidth - 4);
      charts.push(new uPlot(opts, data, box));
    });
    return fig;
  }

  async function overview(params) {
    const range = params.get("range") || "day";
    const form = el("form", { class: "toolbar", onsubmit: (e) => {
      e.preventDefault();
      const q = new URLSearchParams(new FormData(form));
      for (const [k, v] of [...q]) if (!v) q.delete(k);
      location.hash = "overview?" + q;
    } },
      el("label", {}, "Range", el("select", { name: "range", id: "range" },
        ["hour", "day", "week", "month", "custom"].map((r) => el("option", { value: r, selected: r === range, text: r === "custom" ? "custom" : "last " + r })))),
      el("label", {}, "From", el("input", { type: "datetime-local", name: "from", value: params.get("from") || "" })),
      el("label", {}, "To", el("input", { type: "datetime-local", name: "to", value: params.get("to") || "" })),
      el("button", { type: "submit", text: "Show" }));
    view.replaceChildren(el("h1", { text: "Overview" }), form);
    let q = "range=" + encodeURIComponent(range);
    if (range === "custom") {
      const since = Date.parse(params.get("from") || "") / 1000;
      const until = Date.parse(params.get("to") || "") / 1000;
      q += "&since=" + (since || 0) + (until ? "&until=" + until : "");
    }
    const d = await api("overview?" + q);
    const tot = d.series.reduce((a, p) => {
      for (const k of ["n", "errors", "input", "cached", "output", "reasoning", "cost"]) a[k] = (a[k] || 0) + (p[k] || 0);
      return a;
    }, {});
    const fo = d.failovers.reduce((a, f) => a + f.count, 0);
    const cards = [["Requests", fmt(tot.n || 0)], ["Errors", fmt(tot.errors || 0)],
      ["Input tokens", fmt(tot.input || 0)], ["Cached tokens", fmt(tot.cached || 0)],
      ["Output tokens", fmt(tot.output || 0)], ["Reasoning tokens", fmt(tot.reasoning || 0)],
      ["Cache-hit ratio", tot.input ? pct(tot.cached / tot.input) : "-"], ["Failovers", fmt(fo)]];
    if (d.has_cost) cards.push(["Cost", "$" + (tot.cost || 0).toFixed(4)]);
    view.append(el("section", { "aria-label": "Totals", class: "cards" },
      cards.map(([k, v]) => el("div", { class: "card" }, el("div", { class: "k", text: k }), el("div", { class: "v", text: v })))));
    const t = d.series.map((p) => p.t);
    const col = (k) => d.series.map((p) => p[k] || 0);
    charts.forEach((c) => c.destroy()); charts = [];
    const grid = el("section", { class: "charts", "aria-label": "Charts", id: "charts" },
      chart("Requests and errors", ["requests", "errors"], [t, col("n"), col("errors")]),
      chart("Tokens", ["input", "cached", "output", "reasoning"], [t, col("input"), col("cached"), col("output"), col("reasoning")]));
    if (d.has_cost) grid.append(chart("Cost (USD)", ["cost"], [t, col("cost")]));
    view.append(el("h2", { text: "Over time" }), grid);
    view.append(el("h2", { text: "By provider and model" }), table("By provider and model", [
      { label: "Provider", get: (r) => r.provider }, { label: "Model", get: (r) => r.model },
      { label: "Requests", num: 1, get: (r) => fmt(r.n) }, { label: "Errors", num: 1, get: (r) => fmt(r.errors) },
      { label: "p50", num: 1, get: (r) => ms(r.latency_p50_ms) }, { label: "p95", num: 1, get: (r) => ms(r.latency_p95_ms) },
      { label: "TTFB p50", num: 1, get: (r) => ms(r.ttfb_p50_ms) }, { label: "TTFB p95", num: 1, get: (r) => ms(r.ttfb_p95_ms) },
      { label: "Cache hits", num: 1, get: (r) => pct(r.cache_hit_ratio) },
      { label: "Tokens out", num: 1, get: (r) => fmt(r.output) }].concat(d.has_cost ? [{ label: "Cost", num: 1, get: (r) => "$" + (r.cost || 0).toFixed(4) }] : []), d.by_model));
    view.append(el("h2", { text: "By key" }), table("By key", [
      { label: "Key", get: (r) => el("a", { href: "#requests?key=" + encodeURIComponent(r.key), text: r.key }) },
      { label: "Requests", num: 1, get: (r) => fmt(r.n) }, { label: "Errors", num: 1, get: (r) => fmt(r.errors) },
      { label: "Input", num: 1, get: (r) => fmt(r.input) }, { label: "Output", num: 1, get: (r) => fmt(r.output) }]
      .concat(d.has_cost ? [{ label: "Cost", num: 1, get: (r) => "$" + (r.cost || 0).toFixed(4) }] : []), d.by_key));
    const breakers = [];
    for (const p of d.health.providers) for (const [m, s] of Object.entries(p.breakers)) breakers.push({ provider: p.name, model: m, state: s });
    view.append(el("h2", { text: "Breakers and failovers" }), table("Breakers", [
      { label: "Provider", get: (r) => r.provider }, { label: "Model", get: (r) => r.model },
      { label: "Breaker", get: (r) => el("span", { class: r.state === "closed" ? "ok" : "bad", text: r.state }) }], breakers),
      table("Failovers", [{ label: "Provider", get: (r) => r.provider }, { label: "Model", get: (r) => r.model },
        { label: "Served after a failover", num: 1, get: (r) => fmt(r.count) }], d.failovers));
  }

  // -- requests --------------------------------------------------------------------------
  const FILTERS = ["key", "model", "provider", "status", "error_code", "q"];
  async function requests(params) {
    const meta = await api("meta");
    const offset = Number(params.get("offset") || 0);
    const field = (name, label, options) => el("label", {}, label, options
      ? el("select", { name, id: "f-" + name }, el("option", { value: "", text: "any" }),
        options.map((o) => el("option", { value: o, selected: params.get(name) === o, text: o })))
      : el("input", { name, id: "f-" + name, value: params.get(name) || "" }));
    const form = el("form", { class: "toolbar", role: "search", onsubmit: (e) => {
      e.preventDefault();
      const q = new URLSearchParams(new FormData(form));
      for (const [k, v] of [...q]) if (!v) q.delete(k);
      location.hash = "requests?" + q;
    } },
      field("key", "Key", meta.keys.length ? meta.keys : null), field("model", "Model", meta.models),
      field("provider", "Provider", meta.providers),
      field("status", "Status", ["completed", "error", "incomplete", "rejected", "cancelled"]),
      field("error_code", "Error code"),
      meta.capture ? field("q", "Text in payloads") : null,
      el("label", {}, "From", el("input", { type: "datetime-local", name: "from", id: "f-from", value: params.get("from") || "" })),
      el("label", {}, "To", el("input", { type: "datetime-local", name: "to", id: "f-to", value: params.get("to") || "" })),
      el("button", { type: "submit", text: "Filter" }));
    view.replaceChildren(el("h1", { text: "Requests" }), form);
    const q = new URLSearchParams();
    for (const f of FILTERS) if (params.get(f)) q.set(f, params.get(f));
    // The form keeps local times (what the inputs show); the API takes Unix seconds.
    const epoch = (v) => (v ? Date.parse(v) / 1000 : NaN);
    if (epoch(params.get("from"))) q.set("since", epoch(params.get("from")));
    if (epoch(params.get("to"))) q.set("until", epoch(params.get("to")));
    q.set("offset", offset); q.set("limit", 50);
    const d = await api("requests?" + q);
    view.append(table("Requests", [
      { label: "Time", get: (r) => el("a", { href: "#request/" + encodeURIComponent(r.request_id), text: when(r.ts) }) },
      { label: "Key", get: (r) => r.client_key_id || "-" }, { label: "Model", get: (r) => r.requested_model || "-" },
      { label: "Provider", get: (r) => r.provider || "-" },
      { label: "Status", get: (r) => el("span", { class: r.status === "completed" ? "ok" : "bad", text: r.status }) },
      { label: "HTTP", num: 1, get: (r) => r.http_status }, { label: "Error code", get: (r) => r.error_code || "" },
      { label: "Attempts", num: 1, get: (r) => r.attempt_count },
      { label: "Duration", num: 1, get: (r) => ms(r.duration_ms) }, { label: "Tokens out", num: 1, get: (r) => fmt(r.output_tokens) }], d.items));
    if (!d.items.length) view.append(el("p", { text: "No requests match." }));
    const page = (o) => { const p = new URLSearchParams(params); p.set("offset", o); return "#requests?" + p; };
    view.append(el("nav", { "aria-label": "Pages", class: "toolbar" },
      offset > 0 ? el("a", { href: page(Math.max(0, offset - 50)), text: "Newer" }) : null,
      d.more ? el("a", { href: page(offset + 50), text: "Older" }) : null));
  }

  async function request(id) {
    const r = await api("requests/" + encodeURIComponent(id));
    const kv = (pairs) => el("dl", { class: "kv" }, pairs.map(([k, v]) => [el("dt", { text: k }), el("dd", { text: v === null || v === undefined ? "-" : String(v) })]));
    view.replaceChildren(el("h1", { text: "Request " + r.request_id }),
      el("p", {}, el("a", { href: "#requests", text: "Back to requests" })),
      el("h2", { text: "Summary" }), kv([["Time", when(r.ts)], ["Route", r.route], ["Key", r.client_key_id],
        ["Requested model", r.requested_model], ["Provider", r.provider], ["Upstream model", r.upstream_model],
        ["Stream", r.stream], ["Status", r.status], ["HTTP status", r.http_status], ["Error code", r.error_code],
        ["Error", r.error_message], ["Upstream said", r.upstream_message], ["Response id", r.response_id],
        ["Terminal event", r.terminal_event], ["Events", r.event_count]].concat(r.cost_usd !== undefined ? [["Cost (USD)", r.cost_usd]] : [])),
      el("h2", { text: "Timings" }), kv([["Duration", ms(r.duration_ms)], ["Upstream first byte", ms(r.upstream_first_byte_ms)], ["First byte to client", ms(r.first_client_byte_ms)]]),
      el("h2", { text: "Usage" }), kv([["Input", r.input_tokens], ["Cached", r.cached_tokens], ["Output", r.output_tokens], ["Reasoning", r.reasoning_tokens], ["Total", r.total_tokens]]),
      el("h2", { text: "Attempts" }), (r.attempts || []).length
        ? table("Attempts", [{ label: "#", num: 1, get: (a) => (r.attempts.indexOf(a) + 1) },
          { label: "Provider", get: (a) => a.provider || "-" }, { label: "Model", get: (a) => a.model || "-" },
          { label: "Outcome", get: (a) => a.outcome || "-" }, { label: "Status", get: (a) => a.status ?? "" },
          { label: "Code", get: (a) => a.code || "" },
          { label: "Duration", num: 1, get: (a) => ms(a.duration_ms) }], r.attempts)
        : el("p", { text: "No attempts recorded." }),
      el("h2", { text: "Compatibility diagnostics" }), (r.diagnostics || []).length
        ? el("ul", { id: "diagnostics" }, r.diagnostics.map((d) => el("li", {}, d.action
          ? [el("strong", { text: d.action + " " + d.subject }), ": " + (d.detail || "")]
          : JSON.stringify(d))))
        : el("p", { text: "None." }),
      el("h2", { text: "Captured request (redacted)" }), el("pre", { tabindex: 0, text: pretty(r.request_payload) }),
      el("h2", { text: "Captured response (redacted)" }), el("pre", { tabindex: 0, text: pretty(r.response_payload) }));
  }
  function pretty(text) {
    if (text === null || text === undefined) return "Not captured (trace.capture_payload is off).";
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
  }

  // -- keys ------------------------------------------------------------------------------
  async function keys() {
    const d = await api("keys");
    view.replaceChildren(el("h1", { text: "Keys" }));
    const usage = (u) => (u ? fmt(u.n) + " requests, " + fmt(u.tokens) + " tokens, " + fmt(u.errors) + " errors" : "no use in 30 days");
    view.append(el("h2", { text: "Configured keys (server.api_keys)" }), table("Configured keys", [
      { label: "Key id", get: (k) => k.id }, { label: "Admin", get: (k) => (k.admin ? "yes" : "no") },
      { label: "Usage (30 days)", get: (k) => usage(k.usage_30d) }], d.configured));
    if (!d.admin_api) {
      view.append(el("p", { id: "keys-readonly", text: "Read-only: this gateway has no key admin API (/admin/keys), so keys are changed in the config file." }));
      return;
    }
    const list = Array.isArray(d.runtime) ? d.runtime : (d.runtime.data || d.runtime.keys || []);
    view.append(el("h2", { text: "Runtime keys" }), table("Runtime keys", [
      { label: "Name", get: (k) => k.name || k.id }, { label: "Team", get: (k) => k.team || "-" },
      { label: "Policy", get: (k) => JSON.stringify({ limits: k.limits, budget: k.budget }) },
      { label: "Usage (30 days)", get: (k) => usage(d.usage_30d[k.id] || d.usage_30d[k.key_id]) },
      { label: "Action", get: (k) => el("button", { class: "plain", "aria-label": "Revoke " + (k.name || k.id), text: "Revoke", onclick: async () => {
        if (!confirm("Revoke " + (k.name || k.id) + "?")) return;
        await api("keys/" + encodeURIComponent(k.id || k.name), { method: "DELETE" });
        keys();
      } }) }], list));
    const form = el("form", { class: "toolbar", onsubmit: async (e) => {
      e.preventDefault();
      const body = Object.fromEntries(new FormData(form));
      const made = await api("keys", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      status.textContent = "Created. Copy the key now, it is not shown again: " + (made.key || "");
      keys();
    } }, el("label", {}, "Name", el("input", { name: "name", required: true })), el("label", {}, "Team", el("input", { name: "team" })),
      el("button", { type: "submit", text: "Create key" }));
    view.append(el("h2", { text: "Create a runtime key" }), form);
  }

  // -- live ------------------------------------------------------------------------------
  async function live() {
    view.replaceChildren(el("h1", { text: "Live" }));
    const box = el("div", { "aria-live": "off" });
    view.append(box);
    const draw = async () => {
      const d = await api("live");
      box.replaceChildren(el("section", { class: "cards", "aria-label": "Now" },
        el("div", { class: "card" }, el("div", { class: "k", text: "In flight" }), el("div", { class: "v", id: "in-flight", text: d.in_flight })),
        el("div", { class: "card" }, el("div", { class: "k", text: "Open streams" }), el("div", { class: "v", id: "streams", text: d.streams }))),
        el("p", { class: "k", text: "Updated " + when(d.now) + " (every 2 s)" }),
        d.requests === null ? null : [el("h2", { text: "In flight" }), table("In flight", [
          { label: "Started", get: (r) => when(r.started) }, { label: "Key", get: (r) => r.key || "-" },
          { label: "Model", get: (r) => r.model || "-" }, { label: "Provider", get: (r) => r.provider || "-" },
          { label: "Stream", get: (r) => (r.stream ? "yes" : "no") }, { label: "Events", num: 1, get: (r) => fmt(r.events) },
          { label: "Running", num: 1, get: (r) => ms(r.elapsed_ms) }], d.requests)],
        el("h2", { text: "Latest requests" }), table("Latest requests", [
          { label: "Time", get: (r) => el("a", { href: "#request/" + encodeURIComponent(r.request_id), text: when(r.ts) }) },
          { label: "Key", get: (r) => r.client_key_id || "-" }, { label: "Model", get: (r) => r.requested_model || "-" },
          { label: "Status", get: (r) => r.status }, { label: "Duration", num: 1, get: (r) => ms(r.duration_ms) }], d.recent));
    };
    await draw();
    timer = setInterval(() => draw().catch((e) => { status.textContent = e.message; }), 2000);
  }

  // -- router ----------------------------------------------------------------------------
  async function route() {
    if (timer) { clearInterval(timer); timer = null; }
    charts.forEach((c) => c.destroy()); charts = [];
    const raw = location.hash.slice(1) || "overview";
    const [name, query] = raw.split("?");
    const params = new URLSearchParams(query || "");
    for (const a of document.querySelectorAll("nav a")) {
      const here = a.getAttribute("href") === "#" + name.split("/")[0];
      if (here) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    }
    status.textContent = "";
    try {
      if (name === "overview") await overview(params);
      else if (name === "requests") await requests(params);
      else if (name.startsWith("request/")) await request(decodeURIComponent(name.slice(8)));
      else if (name === "keys") await keys();
      else if (name === "live") await live();
      else view.replaceChildren(el("p", { text: "No such page." }));
      document.title = "GodeX: " + name.split("/")[0];
    } catch (e) {
      status.textContent = "Could not load: " + e.message;
    }
  }
  document.getElementById("logout").addEventListener("submit", async (e) => {
    e.preventDefault();
    await fetch("/ui/logout", { method: "POST", headers: { "x-csrf-token": csrf } });
    location.href = "/ui/login";
  });
  // The hash is the router's: the skip link moves focus without touching it.
  document.querySelector("a.skip").addEventListener("click", (e) => {
    e.preventDefault();
    document.getElementById("main").focus();
  });
  window.addEventListener("hashchange", route);
  route();
})();
