// Scrolling strip charts on one canvas: the last `window` seconds of each trace, newest at the right.
"use strict";

class StripCharts {
  /**
   * @param canvas the <canvas> to draw on
   * @param panels [{name, label, unit, lo, hi, color}], drawn top to bottom
   */
  constructor(canvas, panels, window) {
    this.canvas = canvas;
    this.context = canvas.getContext("2d");
    this.panels = panels;
    this.window = window;
    this.samples = Object.fromEntries(panels.map((p) => [p.name, []]));
    this.now = 0;
  }

  /** Append new samples ([[t, value], ...] per trace) and forget those older than the window. */
  add(traces, now) {
    this.now = now;
    for (const [name, fresh] of Object.entries(traces)) {
      if (!(name in this.samples)) continue;
      const kept = this.samples[name];
      kept.push(...fresh);
      const oldest = now - this.window - 1;
      while (kept.length > 1 && kept[1][0] < oldest) kept.shift();
    }
  }

  draw() {
    const { canvas, context: g } = this;
    const left = 62, right = 70, top = 8, gap = 10;
    const height = (canvas.height - top - 22 - gap * (this.panels.length - 1)) / this.panels.length;
    const width = canvas.width - left - right;
    g.clearRect(0, 0, canvas.width, canvas.height);
    g.font = "12px sans-serif";
    this.panels.forEach((panel, i) => {
      const y0 = top + i * (height + gap);
      const y = (v) => y0 + height - ((Math.min(Math.max(v, panel.lo), panel.hi) - panel.lo) / (panel.hi - panel.lo)) * height;
      const x = (t) => left + width - ((this.now - t) / this.window) * width;
      g.fillStyle = "#fbfbfb";
      g.fillRect(left, y0, width, height);
      g.strokeStyle = "#e2e2e2";
      g.fillStyle = "#777";
      g.textAlign = "right";
      for (const tick of panel.ticks) {
        g.beginPath(); g.moveTo(left, y(tick)); g.lineTo(left + width, y(tick)); g.stroke();
        g.fillText(String(tick), left - 6, y(tick) + 4);
      }
      for (let s = 0; s <= this.window; s += this.window / 6) {
        g.beginPath(); g.moveTo(x(this.now - s), y0); g.lineTo(x(this.now - s), y0 + height); g.stroke();
      }
      g.strokeStyle = "#999";
      g.strokeRect(left, y0, width, height);
      g.save();
      g.translate(14, y0 + height / 2); g.rotate(-Math.PI / 2); g.textAlign = "center"; g.fillStyle = "#333";
      g.fillText(panel.unit ? `${panel.label} (${panel.unit})` : panel.label, 0, 0);
      g.restore();
      const points = this.samples[panel.name].filter(([t]) => t >= this.now - this.window - 1);
      g.save();
      g.beginPath(); g.rect(left, y0, width, height); g.clip();
      g.strokeStyle = panel.color; g.lineWidth = 2; g.beginPath();
      points.forEach(([t, v], k) => {
        if (panel.step && k > 0) g.lineTo(x(t), y(points[k - 1][1]));
        k === 0 ? g.moveTo(x(t), y(v)) : g.lineTo(x(t), y(v));
      });
      if (points.length && panel.step) g.lineTo(x(this.now), y(points[points.length - 1][1]));
      g.stroke();
      g.restore();
      g.textAlign = "left"; g.fillStyle = panel.color; g.font = "bold 14px sans-serif";
      const latest = points.length ? points[points.length - 1][1] : null;
      g.fillText(latest === null ? "–" : latest.toFixed(panel.digits), left + width + 8, y0 + height / 2 + 5);
      g.font = "12px sans-serif";
    });
    g.fillStyle = "#777"; g.textAlign = "center";
    const bottom = canvas.height - 6;
    for (let s = 0; s <= this.window; s += this.window / 6) {
      g.fillText(s === 0 ? "now" : `−${Math.round(s)} s`, left + width - (s / this.window) * width, bottom);
    }
  }
}
