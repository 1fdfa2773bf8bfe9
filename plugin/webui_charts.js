// quantload: the web UI's Target tab as charts (CPU, RSS, queue depth over the whole run).
// Served by plugin/webui.py and added to Locust's index page. While the "Target" tab is
// selected, it keeps a block of three line charts above the tab's table, redrawn every
// 2 s (as Locust's own Charts tab) from /quantload/target.json. Plain SVG, nothing fetched
// from elsewhere.
(function () {
  "use strict";
  var BLOCK_ID = "quantload-target-charts";
  var CHARTS = [
    {key: "cpu_percent", title: "Target CPU", unit: "%", color: "#1f77b4"},
    {key: "rss_mb", title: "Target RSS", unit: "MB", color: "#2ca02c"},
    {key: "queue_depth", title: "Queue depth", unit: "jobs", color: "#d62728"}
  ];
  var W = 640, H = 170, L = 56, R = 12, T = 26, B = 24;
  var SVG = "http://www.w3.org/2000/svg";

  function el(name, attrs, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function clock(epoch) {
    return new Date(epoch * 1000).toTimeString().slice(0, 8);
  }

  function tick(value) {
    return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
  }

  function chart(spec, data) {
    var svg = el("svg", {viewBox: "0 0 " + W + " " + H, width: "100%",
      "data-chart": spec.key, role: "img", "aria-label": spec.title});
    svg.style.maxWidth = W + "px";
    svg.appendChild(el("text", {x: L, y: 16, "font-size": "13", fill: "currentColor"},
      spec.title + " (" + spec.unit + ")"));
    var ys = data[spec.key] || [], ts = data.t || [], points = [], top = 0;
    ys.forEach(function (y) { if (y !== null && y > top) { top = y; } });
    top = top > 0 ? top * 1.1 : 1;
    var t0 = ts.length ? ts[0] : 0, t1 = ts.length ? ts[ts.length - 1] : 1;
    var span = t1 > t0 ? t1 - t0 : 1;
    ys.forEach(function (y, i) {
      if (y === null) { return; }
      var x = L + (W - L - R) * (ts[i] - t0) / span;
      points.push(x.toFixed(1) + "," + (H - B - (H - T - B) * y / top).toFixed(1));
    });
    [0, 0.5, 1].forEach(function (f) {
      var y = H - B - (H - T - B) * f;
      svg.appendChild(el("line", {x1: L, x2: W - R, y1: y, y2: y, stroke: "#888",
        "stroke-opacity": "0.3"}));
      svg.appendChild(el("text", {x: L - 6, y: y + 4, "text-anchor": "end", "font-size": "11",
        fill: "currentColor"}, tick(top * f)));
    });
    if (ts.length) {
      svg.appendChild(el("text", {x: L, y: H - 6, "font-size": "11", fill: "currentColor"},
        clock(t0)));
      svg.appendChild(el("text", {x: W - R, y: H - 6, "text-anchor": "end", "font-size": "11",
        fill: "currentColor"}, clock(t1)));
    }
    svg.appendChild(el("polyline", {points: points.join(" "), fill: "none",
      stroke: spec.color, "stroke-width": "2"}));
    return svg;
  }

  function targetTabSelected() {
    var tab = document.querySelector('[role="tab"][aria-selected="true"]');
    return !!tab && tab.textContent.trim() === "Target";
  }

  function block() {
    var table = document.querySelector("table");
    var existing = document.getElementById(BLOCK_ID);
    if (existing || !table) { return existing; }
    var div = document.createElement("div");
    div.id = BLOCK_ID;
    div.style.display = "flex";
    div.style.flexWrap = "wrap";
    div.style.gap = "8px";
    div.style.margin = "8px 0 16px";
    var holder = table.parentElement;
    holder.parentElement.insertBefore(div, holder);
    return div;
  }

  function refresh() {
    if (!targetTabSelected()) { return; }
    fetch("/quantload/target.json").then(function (r) { return r.json(); }).then(function (data) {
      var div = block();
      if (!div) { return; }
      div.setAttribute("data-samples", String(data.samples || 0));
      div.replaceChildren.apply(div, CHARTS.map(function (spec) { return chart(spec, data); }));
    }).catch(function () { /* the next refresh tries again */ });
  }

  setInterval(refresh, 2000);
  document.addEventListener("click", function () { setTimeout(refresh, 100); }, true);
})();
