// The dashboard's data: per symbol, aligned columns for the charts (uPlot takes arrays of
// equal length, x first). Exposed as window.__dashboard for the browser test.
export const MAX_POINTS = 1800;

function symbolSeries() {
  return {
    t: [], ref: [], venues: {}, divergence_bps: [], funding_delta: [], vol: [], arb_bps: [],
    exit: { t: [], atr: [], tp: [], sl: [] },
    latest: null, status: null, features: null,
  };
}

export function createStore() {
  return { series: {}, venues: {}, alerts: [], rows: { large_trades: [], signals: [] },
    sources: { large_trades: false, signals: false }, events: 0 };
}

export function seriesOf(store, symbol) {
  if (!store.series[symbol]) store.series[symbol] = symbolSeries();
  return store.series[symbol];
}

function trim(columns, excess) {
  for (const column of columns) column.splice(0, excess);
}

export function addNormalized(store, event) {
  const s = seriesOf(store, event.symbol);
  const n = s.t.length;
  if (n && event.t <= s.t[n - 1]) return false; // had it (history and live overlap)
  for (const venue of Object.keys(event.prices)) {
    if (!s.venues[venue]) s.venues[venue] = new Array(n).fill(null);
  }
  s.t.push(event.t);
  s.ref.push(event.ref);
  for (const [venue, column] of Object.entries(s.venues)) {
    column.push(event.prices[venue] ?? null);
  }
  s.divergence_bps.push(event.divergence_bps);
  s.funding_delta.push(event.funding_delta);
  s.vol.push(event.vol);
  s.arb_bps.push(event.arb_bps);
  if (!s.latest || event.t >= s.latest.t) s.latest = event;
  const excess = s.t.length - MAX_POINTS;
  if (excess > 0) {
    trim([s.t, s.ref, s.divergence_bps, s.funding_delta, s.vol, s.arb_bps, ...Object.values(s.venues)], excess);
  }
  return true;
}

export function addStatus(store, event) {
  const s = seriesOf(store, event.symbol);
  const e = s.exit;
  if (e.t.length && event.t <= e.t[e.t.length - 1]) return false;
  e.t.push(event.t);
  e.atr.push(event.atr);
  e.tp.push(event.tp);
  e.sl.push(event.sl);
  s.status = event;
  const excess = e.t.length - MAX_POINTS;
  if (excess > 0) trim([e.t, e.atr, e.tp, e.sl], excess);
  return true;
}

export function addAlert(store, event) {
  store.alerts.push(event);
  if (store.alerts.length > 200) store.alerts.splice(0, store.alerts.length - 200);
}

export function addRow(store, event) {
  const rows = store.rows[event.source];
  if (!rows) return;
  store.sources[event.source] = true;
  rows.push(event);
  if (rows.length > 100) rows.splice(0, rows.length - 100);
}
