// polyloly web console: renders the bot's snapshot pushed by server-sent events
// (/console/events) and sends the operator's commands to the control API.
// Hand-written, no framework and no build step; every value is set as text (never as HTML).
"use strict";

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function num(value, extra) {
  const text = value === null || value === undefined ? "–" : String(value);
  let cls = "num";
  if (extra === "signed" && text !== "–") {
    const n = Number(text);
    if (n > 0) cls += " pos";
    else if (n < 0) cls += " neg";
  }
  return el("td", { class: cls }, text);
}

function fillBody(table, rows, columns) {
  const body = $(table).tBodies[0];
  if (!rows.length) {
    body.replaceChildren(el("tr", {}, el("td", { class: "empty", colspan: columns }, "none")));
    return;
  }
  body.replaceChildren(...rows);
}

function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return (h ? `${h}:${pad(m)}` : `${m}`) + `:${pad(r)}`;
}

function clock(ms) {
  return ms ? new Date(ms).toISOString().slice(11, 19) : "–";
}

function card(label, value, note, testid) {
  return el("div", { class: "card", "data-testid": testid },
    el("div", { class: "label" }, label),
    el("div", { class: "value" }, value),
    note ? el("div", { class: "note" }, note) : null);
}

function renderHeader(s) {
  $("mode").textContent = s.mode;
  $("elapsed").textContent = `running ${duration(s.elapsed_s)}`;
  const sw = $("switch");
  sw.textContent = s.halted ? "HALTED" : "TRADING";
  sw.className = "badge " + (s.halted ? "bad" : "ok");
  const banner = $("halt-banner");
  banner.hidden = !s.halted;
  banner.textContent = s.halted ? `Kill switch: ${s.halt_reason}` : "";
}

function renderFeeds(s) {
  const badges = Object.entries(s.feeds || {}).map(([name, state]) =>
    el("span", { class: "badge " + (state === "ok" ? "ok" : "bad"), "data-feed": name },
      `${name} ${state}`));
  $("feeds").replaceChildren(...badges);
}

function renderCards(s) {
  const t = s.trading;
  if (!t) {
    $("cards").replaceChildren(card("mode", s.mode, "recording: no trading", "card-mode"));
    return;
  }
  const fills = Object.values(t.fills_by_strategy).reduce((a, b) => a + b, 0);
  const intents = Object.values(t.intents).reduce((a, b) => a + b, 0);
  const total = s.markets.length;
  $("cards").replaceChildren(
    card("PnL since start (pUSD)", t.pnl,
      `realized ${t.realized} · unrealized ${t.unrealized} · fees ${t.fees}`, "card-pnl"),
    card("equity (pUSD)", t.equity, `at start ${t.equity_start}`, "card-equity"),
    card("collateral (pUSD)", t.collateral, null, "card-collateral"),
    card("open orders", t.open_orders, null, "card-open-orders"),
    card("fills", fills, Object.entries(t.fills_by_strategy).map(([k, v]) => `${k} ${v}`).join(" · "),
      "card-fills"),
    card("intents", intents, null, "card-intents"),
    card("markets settled", `${t.markets_resolved} / ${total}`,
      "settlement moves PnL when a market resolves", "card-settled"),
  );
}

function renderMatches(s) {
  const rows = s.matches.map((m) => {
    const score = m.team_a === undefined ? "–" : `${m.team_a} ${m.score_a}-${m.score_b} ${m.team_b}`;
    const state = m.blocked ? `${m.state} (blocked)` : m.state;
    const sources = m.sources.map((x) => `${x.name} ${x.age_s}s`).join(", ") || "none yet";
    return el("tr", { "data-match": m.match_id },
      el("td", {}, m.match_id),
      el("td", { class: `state state-${m.state}` }, state),
      el("td", {}, score),
      el("td", {}, m.winner || "–"),
      num(m.confidence),
      el("td", {}, sources));
  });
  fillBody("matches", rows, 6);
}

function side(level) {
  return level ? `${level.price} × ${level.size}` : "–";
}

function renderMarkets(s) {
  const rows = [];
  for (const m of s.markets) {
    m.outcomes.forEach((o, i) => {
      const p = o.position || {};
      rows.push(el("tr", { "data-market": m.name, class: m.resolved ? "closed" : null },
        i === 0 ? el("td", { rowspan: 2, title: m.question }, m.name + (m.resolved ? " (resolved)" : "")) : null,
        el("td", {}, o.team),
        num(side(o.bid)), num(side(o.ask)),
        num(p.shares), num(p.confirmed), num(p.pending), num(p.avg_cost), num(p.mark),
        num(p.pnl, "signed"),
        i === 0 ? el("td", { rowspan: 2, class: "num" }, m.open_orders) : null));
    });
  }
  fillBody("markets", rows, 11);
}

function renderOrders(s) {
  const orders = s.trading ? s.trading.orders : [];
  const rows = orders.map((o) => el("tr", { class: o.open ? "open" : "closed", "data-order": o.id },
    el("td", {}, o.strategy), el("td", {}, o.market), el("td", {}, o.side), el("td", {}, o.type),
    num(o.price), num(o.size), num(o.filled), el("td", {}, o.state)));
  fillBody("orders", rows, 8);
}

function renderFills(s) {
  const fills = s.trading ? s.trading.fills : [];
  const rows = fills.map((f) => el("tr", { "data-trade": f.trade },
    el("td", {}, clock(f.ts_ms)), el("td", {}, f.strategy), el("td", {}, f.market),
    el("td", {}, f.side), num(f.price), num(f.size), num(f.fee), el("td", {}, f.status)));
  fillBody("fills", rows, 8);
}

function renderAlerts(s) {
  const items = s.alerts.map((a) => el("li", { class: a.level },
    el("time", {}, clock(a.ts_ms)), `${a.title}: ${a.detail}`));
  $("alerts").replaceChildren(...(items.length ? items : [el("li", { class: "empty" }, "none")]));
}

function render(s) {
  renderHeader(s);
  renderFeeds(s);
  renderCards(s);
  renderMatches(s);
  renderMarkets(s);
  renderOrders(s);
  renderFills(s);
  renderAlerts(s);
  document.body.dataset.updated = String(s.now_ms);
}

function connect() {
  const link = $("link");
  const source = new EventSource("/console/events");
  source.addEventListener("open", () => {
    link.textContent = "live";
    link.className = "badge link-up";
  });
  source.addEventListener("state", (event) => render(JSON.parse(event.data)));
  source.addEventListener("error", () => {
    link.textContent = "reconnecting";
    link.className = "badge link-down";
    if (source.readyState === EventSource.CLOSED) {
      // signed out (the stream answered 401) or the bot is gone: back to the sign-in page
      setTimeout(() => window.location.assign("/console"), 3000);
    }
  });
}

function notify(text) {
  const notice = $("notice");
  notice.textContent = text;
  notice.hidden = false;
}

async function command(path, body) {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-Polyloly-Console": "1" },
    body: JSON.stringify(body || {}),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
  return answer;
}

function ask(title, text, withReason) {
  const dialog = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  const reason = $("confirm-reason");
  reason.value = "";
  reason.hidden = !withReason;
  reason.required = withReason;
  $("confirm-reason-label").hidden = !withReason;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok" ? { reason: reason.value.trim() } : null);
    }, { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    if (withReason) reason.focus();
  });
}

function wire(button, title, text, path, withReason) {
  $(button).addEventListener("click", async () => {
    const answer = await ask(title, text, withReason);
    if (!answer) return;
    try {
      await command(path, withReason ? { reason: answer.reason } : {});
      notify(`${title}: sent`);
    } catch (error) {
      notify(`${title} failed: ${error.message}`);
    }
  });
}

wire("halt", "Halt trading",
  "Cancel every open order and refuse new ones until resumed.", "/halt", true);
wire("resume", "Resume trading", "Clear the kill switch and let the strategies trade.", "/resume", false);
wire("cancel-all", "Cancel all orders",
  "Cancel every open order of the account (trading goes on).", "/cancel-all", false);
connect();
