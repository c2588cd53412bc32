/*
 * Small SVG charts for the voxgate console: stacked bars over time and a
 * horizontal bar histogram. Each chart is an <svg role="img"> with a
 * summary label, followed by a collapsible data table for screen readers
 * and for reading exact numbers.
 */
(function (root) {
  "use strict";

  var NS = "http://www.w3.org/2000/svg";

  function el(name, attrs, text) {
    var e = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) {
      e.setAttribute(k, attrs[k]);
    });
    if (text != null) e.textContent = text;
    return e;
  }

  function html(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "class") e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    if (text != null) e.textContent = text;
    return e;
  }

  // niceScale picks an integer tick step of 1, 2, 2.5 or 5 times a power of
  // ten so that four steps cover max.
  function niceScale(max) {
    if (!(max > 0)) return { max: 4, step: 1 };
    var raw = max / 4;
    var p = Math.pow(10, Math.floor(Math.log10(raw)));
    var m = [1, 2, 2.5, 5, 10].filter(function (x) { return x * p >= raw; })[0];
    var step = Math.max(1, Math.ceil(m * p));
    return { max: step * 4, step: step };
  }

  function dataTable(caption, head, rows) {
    var d = html("details", { class: "data" });
    d.appendChild(html("summary", {}, "Show data as a table"));
    var t = html("table");
    t.appendChild(html("caption", { class: "visually-hidden" }, caption));
    var tr = html("tr");
    head.forEach(function (h) {
      tr.appendChild(html("th", { scope: "col" }, h));
    });
    var thead = html("thead");
    thead.appendChild(tr);
    t.appendChild(thead);
    var tb = html("tbody");
    rows.forEach(function (r) {
      var row = html("tr");
      r.forEach(function (c, i) {
        row.appendChild(html(i === 0 ? "th" : "td", i === 0 ? { scope: "row" } : { class: "num" }, String(c)));
      });
      tb.appendChild(row);
    });
    t.appendChild(tb);
    d.appendChild(t);
    return d;
  }

  /**
   * stackedBars draws one bar per point, stacked by series.
   * opts: {title, series: [{key, label, color}], points: [{label, tick?, values: {key: n}}], empty}
   */
  function stackedBars(container, opts) {
    container.textContent = "";
    var W = 560, H = 220, L = 40, R = 10, T = 12, B = 28;
    var pts = opts.points || [];
    var totals = pts.map(function (p) {
      return opts.series.reduce(function (s, se) {
        return s + (p.values[se.key] || 0);
      }, 0);
    });
    var sum = totals.reduce(function (a, b) {
      return a + b;
    }, 0);
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": opts.title + ": " + (sum ? sum + " in total" : "no data") });
    var sc = niceScale(Math.max.apply(null, totals.concat([0])));
    var ph = H - T - B, pw = W - L - R;
    var grid = el("g", { class: "grid" });
    var axis = el("g", { class: "axis" });
    for (var v = 0; v <= sc.max; v += sc.step) {
      var y = T + ph - (v / sc.max) * ph;
      grid.appendChild(el("line", { x1: L, x2: W - R, y1: y, y2: y }));
      axis.appendChild(el("text", { x: L - 6, y: y + 4, "text-anchor": "end" }, String(v)));
    }
    svg.appendChild(grid);
    svg.appendChild(axis);
    if (!pts.length || !sum) {
      svg.appendChild(el("text", { x: L + pw / 2, y: T + ph / 2, "text-anchor": "middle", class: "empty" }, opts.empty || "No requests in this period"));
    }
    var bw = pts.length ? pw / pts.length : pw;
    var gap = Math.min(2, bw * 0.2);
    pts.forEach(function (p, i) {
      var x = L + i * bw + gap / 2;
      var y0 = T + ph;
      opts.series.forEach(function (se) {
        var n = p.values[se.key] || 0;
        if (!n) return;
        var h = (n / sc.max) * ph;
        y0 -= h;
        var r = el("rect", { x: x, y: y0, width: Math.max(1, bw - gap), height: h, fill: se.color });
        r.appendChild(el("title", {}, p.label + " · " + se.label + ": " + n));
        svg.appendChild(r);
      });
      if (p.tick) {
        var anchor = i === pts.length - 1 ? "end" : i === 0 ? "start" : "middle";
        var tx = anchor === "end" ? x + bw : anchor === "start" ? x : x + bw / 2;
        axis.appendChild(el("text", { x: tx, y: H - 8, "text-anchor": anchor }, p.tick));
      }
    });
    container.appendChild(svg);
    var rows = [];
    pts.forEach(function (p, i) {
      if (totals[i]) rows.push([p.label].concat(opts.series.map(function (se) { return p.values[se.key] || 0; })));
    });
    if (rows.length) container.appendChild(dataTable(opts.title, ["Time"].concat(opts.series.map(function (s) { return s.label; })), rows));
  }

  /**
   * hbars draws a horizontal bar per item, largest first.
   * opts: {title, items: [{label, value, color?}], color, empty}
   */
  function hbars(container, opts) {
    container.textContent = "";
    var items = (opts.items || []).slice().sort(function (a, b) {
      return b.value - a.value;
    });
    var rowH = 30, L = 190, R = 90, T = 6;
    var W = 560, H = Math.max(80, T * 2 + items.length * rowH);
    var total = items.reduce(function (s, it) { return s + it.value; }, 0);
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": opts.title + ": " + (items.length ? items.map(function (i) { return i.label + " " + i.value; }).join(", ") : "none") });
    if (!items.length) {
      svg.appendChild(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" }, opts.empty || "Nothing to show"));
    }
    var max = items.length ? items[0].value : 1;
    items.forEach(function (it, i) {
      var y = T + i * rowH;
      var w = Math.max(2, (it.value / max) * (W - L - R));
      svg.appendChild(el("text", { x: L - 8, y: y + rowH / 2 + 5, "text-anchor": "end", class: "lbl" }, it.label));
      var r = el("rect", { x: L, y: y + 4, width: w, height: rowH - 8, rx: 3, fill: it.color || opts.color || "#0b5cad" });
      r.appendChild(el("title", {}, it.label + ": " + it.value));
      svg.appendChild(r);
      var pct = total ? " (" + Math.round((100 * it.value) / total) + "%)" : "";
      svg.appendChild(el("text", { x: L + w + 6, y: y + rowH / 2 + 5, class: "val" }, String(it.value) + pct));
    });
    container.appendChild(svg);
    if (items.length) container.appendChild(dataTable(opts.title, ["Item", "Count"], items.map(function (i) { return [i.label, i.value]; })));
  }

  root.VGCharts = { stackedBars: stackedBars, hbars: hbars, niceScale: niceScale };
})(window);
