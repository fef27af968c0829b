// modelops web UI: progressive enhancement only; every page works without this script.
// 1. Collect script errors (window.__modelopsErrors) so browser tests can assert a clean console.
// 2. Runs table: "select all", selection count, Compare enabled with two or more runs.
// 3. Charts: a tooltip with the nearest point's value on hover.
// 4. MLflow-style links (`/#/experiments/1/runs/<id>`, printed by the MLflow client) go to the matching page.
(function () {
  "use strict";
  var mlflowLink = /^#\/experiments\/([^/]+)(?:\/runs\/([0-9a-f]+))?/.exec(window.location.hash);
  if (mlflowLink && window.location.pathname === "/") {
    window.location.replace(mlflowLink[2] ? "/runs/" + mlflowLink[2] : "/experiments/" + encodeURIComponent(mlflowLink[1]));
    return;
  }
  window.__modelopsErrors = [];
  window.addEventListener("error", function (e) {
    window.__modelopsErrors.push(String(e.message || e.type) + " @ " + (e.filename || "") + ":" + (e.lineno || 0));
  });
  window.addEventListener("unhandledrejection", function (e) {
    window.__modelopsErrors.push("unhandled rejection: " + String(e.reason));
  });

  function format(v) {
    if (!isFinite(v)) return String(v);
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-4 || a >= 1e9)) return v.toExponential(4);
    return String(Math.round(v * 1e6) / 1e6);
  }

  function setupSelection() {
    var form = document.getElementById("runs-form");
    if (!form) return;
    var button = document.getElementById("compare-button");
    var count = document.getElementById("selection-count");
    var all = document.getElementById("select-all");
    function boxes() { return form.querySelectorAll("input[name=runs]"); }
    function update() {
      var n = 0;
      boxes().forEach(function (b) { if (b.checked) n++; });
      if (button) button.disabled = n < 2;
      if (count) count.textContent = n === 0 ? "Select two or more runs to compare" : n + " selected";
    }
    form.addEventListener("change", update);
    if (all) all.addEventListener("change", function () {
      boxes().forEach(function (b) { b.checked = all.checked; });
      update();
    });
    update();
  }

  function setupChart(svg) {
    var d = svg.dataset;
    var x0 = +d.x0, x1 = +d.x1, y0 = +d.y0, y1 = +d.y1;
    var left = +d.left, top = +d.top, w = +d.plotW, h = +d.plotH;
    var series = [];
    svg.querySelectorAll("polyline.series").forEach(function (line) {
      var pts = (line.getAttribute("points") || "").trim().split(/\s+/).filter(Boolean).map(function (p) {
        var xy = p.split(","); return [+xy[0], +xy[1]];
      });
      series.push({ stroke: line.getAttribute("stroke"), pts: pts });
    });
    if (!series.length) return;
    var fig = svg.parentNode;
    var tip = document.createElement("div");
    tip.className = "chart-tooltip"; tip.hidden = true; fig.appendChild(tip);
    var ns = "http://www.w3.org/2000/svg";
    var guide = document.createElementNS(ns, "line");
    guide.setAttribute("class", "hover-line"); guide.setAttribute("y1", top); guide.setAttribute("y2", top + h);
    guide.style.display = "none"; svg.appendChild(guide);
    var dot = document.createElementNS(ns, "circle");
    dot.setAttribute("r", "4"); dot.style.display = "none"; svg.appendChild(dot);
    svg.addEventListener("mousemove", function (ev) {
      var box = svg.getBoundingClientRect();
      var vb = svg.viewBox.baseVal;
      var px = (ev.clientX - box.left) * vb.width / box.width;
      var py = (ev.clientY - box.top) * vb.height / box.height;
      var best = null;
      series.forEach(function (s) {
        s.pts.forEach(function (p) {
          var dist = Math.abs(p[0] - px) * 4 + Math.abs(p[1] - py);
          if (!best || dist < best.dist) best = { dist: dist, p: p, stroke: s.stroke };
        });
      });
      if (!best) return;
      var vx = x0 + (best.p[0] - left) / w * (x1 - x0);
      var vy = y0 + (1 - (best.p[1] - top) / h) * (y1 - y0);
      guide.setAttribute("x1", best.p[0]); guide.setAttribute("x2", best.p[0]); guide.style.display = "";
      dot.setAttribute("cx", best.p[0]); dot.setAttribute("cy", best.p[1]); dot.setAttribute("fill", best.stroke); dot.style.display = "";
      // Steps, points and days are whole numbers; pixels make them approximate, so round.
      if (d.xLabel === "step" || d.xLabel === "point" || d.xLabel === "days") vx = Math.round(vx);
      tip.textContent = (d.xLabel || "x") + " " + format(vx) + " · " + format(vy);
      tip.style.left = (best.p[0] * box.width / vb.width) + "px";
      tip.style.top = (best.p[1] * box.height / vb.height) + "px";
      tip.hidden = false;
    });
    svg.addEventListener("mouseleave", function () { tip.hidden = true; guide.style.display = "none"; dot.style.display = "none"; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupSelection();
    document.querySelectorAll("figure.chart svg").forEach(setupChart);
  });
})();
