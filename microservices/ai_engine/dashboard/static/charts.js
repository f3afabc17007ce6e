// uPlot charts (the vendored global `uPlot`): one per panel, rebuilt when its series change
// (another symbol, a venue appearing), else fed new data.
const PALETTE = ["#58a6ff", "#3fb950", "#d29922", "#f778ba", "#a371f7", "#79c0ff", "#ffa657",
  "#56d4dd", "#e3b341", "#ff7b72", "#7ee787", "#d2a8ff", "#f0883e", "#8b949e", "#bc8cff"];
const AXIS = { stroke: "#8a96a3", grid: { stroke: "#2a3440", width: 1 }, ticks: { stroke: "#2a3440" } };

function width(el) {
  return Math.max(200, Math.floor(el.clientWidth || el.parentElement.clientWidth - 20));
}

export class Chart {
  constructor(el, { height = 220, time = true } = {}) {
    this.el = el;
    this.height = height;
    this.time = time;
    this.key = null;
    this.plot = null;
    new ResizeObserver(() => this.resize()).observe(el.parentElement);
  }

  resize() {
    if (this.plot) this.plot.setSize({ width: width(this.el), height: this.height });
  }

  // labels: series names after x; data: [x, ...columns]; key: rebuild when it changes
  draw(key, labels, data, styles = {}) {
    if (this.key !== key || !this.plot) {
      if (this.plot) this.plot.destroy();
      this.el.textContent = "";
      const series = [{}].concat(labels.map((label, i) => ({
        label, stroke: styles[label]?.stroke || PALETTE[i % PALETTE.length],
        width: styles[label]?.width || 1, spanGaps: true, points: { show: false },
        scale: styles[label]?.scale || "y",
      })));
      const axes = [AXIS, { ...AXIS, size: 60, scale: "y" }];
      if (series.some((s) => s.scale === "right")) axes.push({ ...AXIS, size: 60, scale: "right", side: 1, grid: { show: false } });
      const opts = {
        width: width(this.el), height: this.height, series, axes,
        scales: { x: { time: this.time } },
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
      };
      this.plot = new uPlot(opts, data, this.el);
      this.key = key;
    } else {
      this.plot.setData(data);
    }
  }
}

// cumulative depth from the consolidated ladder: x = USD price ascending (uPlot needs sorted
// x), one column of cumulative bid size, one of ask size; a crossed book overlaps them
export function depthData(book) {
  const points = [];
  let total = 0;
  for (const level of book.bids) { total += level.size; points.push([level.price, total, null]); }
  total = 0;
  for (const level of book.asks) { total += level.size; points.push([level.price, null, total]); }
  points.sort((a, b) => a[0] - b[0]);
  return [points.map((p) => p[0]), points.map((p) => p[1]), points.map((p) => p[2])];
}
