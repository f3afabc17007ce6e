// The dashboard: first state from the REST routes, then live events from /api/v1/stream.
import { Unauthorized, getJSON, openStream, setToken, token } from "./api.js";
import { Chart, depthData } from "./charts.js";
import { renderAlerts, renderFeatures, renderHeadline, renderRows, renderVenues } from "./panels.js";
import { addAlert, addNormalized, addRow, addStatus, createStore, seriesOf } from "./store.js";

const $ = (id) => document.getElementById(id);
const store = createStore();
const view = { symbol: null, symbols: [], dirty: true, stream: null, ready: false };
window.__dashboard = { store, view, series: store.series };

const charts = {
  price: new Chart($("chart-price"), { height: 280 }),
  spread: new Chart($("chart-spread")),
  vol: new Chart($("chart-vol")),
  arb: new Chart($("chart-arb")),
  exit: new Chart($("chart-exit")),
  depth: new Chart($("chart-depth"), { time: false }),
};

const handlers = {
  hello: (e) => Object.assign(store.sources, e.sources),
  normalized: (e) => addNormalized(store, e),
  status: (e) => addStatus(store, e),
  alert: (e) => addAlert(store, e),
  features: (e) => { seriesOf(store, e.symbol).features = e; },
  venues: (e) => { store.venues = e.venues; },
  row: (e) => addRow(store, e),
};

function onEvent(event) {
  const handle = handlers[event.kind];
  if (!handle) return;
  handle(event);
  store.events += 1;
  view.dirty = true;
}

function setLive(state) {
  const badge = $("live");
  badge.dataset.state = state;
  badge.textContent = state;
}

function drawCharts(s, symbol) {
  const venues = Object.keys(s.venues).sort();
  const styles = { reference: { stroke: "#ffffff", width: 2 } };
  charts.price.draw(`${symbol}|${venues.join(",")}`, ["reference", ...venues],
    [s.t, s.ref, ...venues.map((v) => s.venues[v])], styles);
  charts.spread.draw(symbol, ["divergence bps", "funding spread % (right)"],
    [s.t, s.divergence_bps, s.funding_delta], { "funding spread % (right)": { scale: "right" } });
  charts.vol.draw(symbol, ["volatility factor"], [s.t, s.vol]);
  charts.arb.draw(symbol, ["arb bps"], [s.t, s.arb_bps]);
  const e = s.exit;
  charts.exit.draw(symbol, ["ATR", "TP", "SL"], [e.t, e.atr, e.tp, e.sl]);
}

function render() {
  if (!view.dirty || !view.symbol) return;
  view.dirty = false;
  const s = seriesOf(store, view.symbol);
  renderHeadline(s);
  renderVenues(store.venues, s);
  drawCharts(s, view.symbol);
  renderAlerts(store.alerts, view.symbol);
  renderRows("large-trades", "large_trades", store.rows.large_trades, store.sources.large_trades, view.symbol, "large trades");
  renderRows("signals", "signals", store.rows.signals, store.sources.signals, view.symbol, "model signals");
  renderFeatures(s.features);
}

async function refreshDepth() {
  if (!view.symbol) return;
  const symbol = view.symbol;
  try {
    const book = await getJSON(`/api/v1/orderbook/${symbol}/consolidated?depth=200`);
    const empty = !book.bids.length && !book.asks.length;
    const excluded = Object.entries(book.excluded).map(([v, why]) => `${v} ${why}`).join(", ");
    $("depth-note").textContent = empty
      ? "No fresh order book for this symbol."
      : `${Object.keys(book.venues).length} venues, mid ${book.mid?.toFixed(2)} USD` +
        (excluded ? `; left out: ${excluded}` : "");
    if (!empty) charts.depth.draw(`${symbol}-depth`, ["bids", "asks"], depthData(book),
      { bids: { stroke: "#3fb950" }, asks: { stroke: "#f85149" } });
  } catch (error) {
    if (error instanceof Unauthorized) askToken();
    else $("depth-note").textContent = `Depth unavailable: ${error.message}`;
  }
}

function choose(symbol) {
  view.symbol = symbol;
  localStorage.setItem("ce_symbol", symbol);
  for (const button of $("symbols").children) {
    button.setAttribute("aria-pressed", String(button.dataset.symbol === symbol));
  }
  view.dirty = true;
  render();
  refreshDepth();
}

function buildNav(symbols) {
  const nav = $("symbols");
  nav.textContent = "";
  for (const symbol of symbols) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.symbol = symbol;
    button.textContent = symbol;
    button.addEventListener("click", () => choose(symbol));
    nav.appendChild(button);
  }
}

async function loadHistory(symbol) {
  const history = await getJSON(`/api/v1/dashboard/history/${symbol}`);
  history.normalized.forEach((e) => addNormalized(store, e));
  history.status.forEach((e) => addStatus(store, e));
  if (history.features) seriesOf(store, symbol).features = history.features;
}

async function start() {
  try {
    const followed = await getJSON("/api/v1/symbols");
    view.symbols = followed.symbols.map((s) => s.symbol);
    buildNav(view.symbols);
    const first = await getJSON("/api/v1/dashboard/sources");
    Object.assign(store.sources, first.sources);
    Object.values(first.rows).flat().forEach((r) => addRow(store, r));
    store.venues = first.venues;
    (await getJSON("/api/v1/dashboard/alerts?limit=100")).forEach((a) => addAlert(store, a));
    // a symbol without history yet (just followed) starts empty and fills live
    await Promise.allSettled(view.symbols.map(loadHistory));
  } catch (error) {
    if (error instanceof Unauthorized) { askToken(); return; }
    setLive("retrying"); // the engine or its Redis is not answering yet: try again
    $("live").title = error.message;
    setTimeout(start, 3000);
    return;
  }
  const saved = localStorage.getItem("ce_symbol");
  choose(view.symbols.includes(saved) ? saved : view.symbols[0]);
  view.stream = openStream(onEvent, setLive);
  view.ready = true;
}

function askToken(message = "This engine needs its API token.") {
  if (view.stream) { view.stream.close(); view.stream = null; }
  setLive("unauthorized");
  $("token-form").hidden = false;
  $("token-message").textContent = message;
  $("token-input").focus();
}

$("token-form").addEventListener("submit", (submit) => {
  submit.preventDefault();
  setToken($("token-input").value.trim());
  $("token-form").hidden = true;
  start();
});
$("token-button").addEventListener("click", () => askToken(token() ? "Replace the saved token." : "Enter a token."));

setInterval(render, 250);
setInterval(refreshDepth, 5000);
start();
