// DOM panels: headline figures, venue health, alerts timeline, optional rows, features.
const $ = (id) => document.getElementById(id);

export function fmt(value, digits = 2) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  const abs = Math.abs(value);
  const places = abs >= 1000 ? digits : abs >= 1 ? Math.max(digits, 4) : 6;
  return Number(value).toLocaleString("en-US", { maximumFractionDigits: places });
}

function timeOf(t) {
  return new Date(t * 1000).toISOString().slice(11, 19);
}

function text(id, value) {
  const el = $(id);
  if (el.textContent !== value) el.textContent = value;
}

export function renderHeadline(series) {
  const last = series?.latest;
  text("h-ref", fmt(last?.ref));
  text("h-bid", fmt(last?.best_bid));
  text("h-bid-venue", last?.best_bid_venue || "");
  text("h-ask", fmt(last?.best_ask));
  text("h-ask-venue", last?.best_ask_venue || "");
  text("h-arb", fmt(last?.arb_bps, 2));
  text("h-div", fmt(last?.divergence_bps, 2));
  text("h-fund", fmt(last?.funding_delta, 4));
  text("h-vol", fmt(last?.vol, 3));
  const status = series?.status;
  text("h-mode", status ? status.mode : "–");
  $("h-mode").className = status && status.mode === "local" ? "state-stale" : "";
  text("h-mult", status ? `ATR ×${fmt(status.atr, 3)} TP ×${fmt(status.tp, 3)} SL ×${fmt(status.sl, 3)}` : "");
  text("exit-reason", status ? `${status.reasoning} (data age ${fmt(status.age_s, 1)} s)` : "No ExitBrain status yet.");
}

// one row per venue: display state from the collector, price/funding from the newest snapshot
export function renderVenues(venues, series) {
  const body = $("venues").tBodies[0];
  const last = series?.latest;
  const names = Object.keys(venues).sort();
  while (body.rows.length > names.length) body.deleteRow(-1);
  names.forEach((venue, i) => {
    const row = body.rows[i] || body.insertRow();
    while (row.cells.length < 5) row.insertCell();
    const health = venues[venue];
    const excluded = last?.excluded?.[venue];
    const state = health.status === "connected" && excluded === "stale" ? "stale" : health.status;
    const cause = [health.cause, excluded ? `excluded: ${excluded}` : ""].filter(Boolean).join("; ");
    row.dataset.venue = venue;
    row.dataset.state = state;
    row.cells[0].textContent = venue;
    row.cells[1].textContent = state;
    row.cells[1].className = `state state-${state}`;
    row.cells[2].textContent = fmt(last?.prices?.[venue]);
    row.cells[3].textContent = last?.funding?.[venue] !== undefined ? `${fmt(last.funding[venue], 4)} %` : "";
    row.cells[4].textContent = cause;
    row.cells[4].className = "cause";
  });
}

export function renderAlerts(alerts, symbol) {
  const list = $("alerts");
  const shown = alerts.filter((a) => !a.symbol || a.symbol === symbol).slice(-50).reverse();
  list.textContent = "";
  for (const alert of shown) {
    const item = document.createElement("li");
    item.className = `sev-${alert.severity}`;
    const where = [alert.symbol, alert.venue].filter(Boolean).join(" ");
    item.textContent = `${timeOf(alert.t)} ${alert.origin}/${alert.type} ${where}: ${alert.reason}`;
    list.appendChild(item);
  }
  $("alerts-empty").hidden = shown.length > 0;
}

function genericText(values) {
  return Object.entries(values)
    .map(([k, v]) => `${k}=${typeof v === "number" ? fmt(v) : v}`)
    .join(" ");
}

// exchange.large_trades (issue 16) and exchange.signals (issue 17) entries, known fields
// first; anything else in the generic key=value form
const FORMATS = {
  large_trades: (v) => v.value_usd === undefined ? genericText(v) :
    `${v.is_liquidation === "true" ? "LIQUIDATION " : ""}${v.exchange} ${v.side} ${fmt(v.size)} ` +
    `@ ${fmt(v.price)} = $${fmt(v.value_usd, 0)}`,
  signals: (v) => v.probability === undefined ? genericText(v) :
    `p=${fmt(v.probability, 3)} (threshold ${fmt(v.threshold, 2)}) model ${v.model_version} ` +
    `decision ${v.decision}${v.meta_decision ? ` meta ${v.meta_decision}` : ""} burst ${v.burst_confirmed}`,
};

function rowSymbol(values) {
  return values.group ?? values.symbol;
}

export function renderRows(id, source, rows, available, symbol, what) {
  const box = $(id);
  const shown = rows.filter((r) => !rowSymbol(r.values) || rowSymbol(r.values) === symbol).slice(-30).reverse();
  box.textContent = "";
  for (const row of shown) {
    const line = document.createElement("div");
    const t = typeof row.values.timestamp === "number" ? row.values.timestamp : row.t;
    line.textContent = `${timeOf(t)} ${(FORMATS[source] || genericText)(row.values)}`;
    box.appendChild(line);
  }
  const empty = $(`${id}-empty`);
  empty.hidden = shown.length > 0;
  empty.textContent = available
    ? `No ${what} for ${symbol} yet.`
    : `No ${what} stream on this engine yet: the panel fills when it appears.`;
}

export function renderFeatures(features) {
  const body = $("features").tBodies[0];
  $("features-empty").hidden = Boolean(features);
  if (!features) return;
  const entries = Object.entries(features.values);
  while (body.rows.length > entries.length) body.deleteRow(-1);
  entries.forEach(([name, value], i) => {
    const row = body.rows[i] || body.insertRow();
    while (row.cells.length < 2) row.insertCell();
    row.cells[0].textContent = name;
    row.cells[1].textContent = fmt(value, 6);
  });
}
