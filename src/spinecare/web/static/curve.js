// The set-up page's target curve: the mode drawn ahead of time by the session's own controller
// (GET /sessions/{id}/curve.json), redrawn when the traction time or the clinician's limit change.
(function () {
  const el = document.getElementById("curve-chart");
  if (!el) return;
  const labels = JSON.parse(el.dataset.labels);
  const form = document.getElementById("start-form");
  let plot = null, timer = null, asked = "";

  function query() {
    const q = new URLSearchParams();
    const m = form && form.elements.minutes ? form.elements.minutes.value.trim().replace(",", ".") : "";
    const c = form && form.elements.clinician_max_force_n ? form.elements.clinician_max_force_n.value.trim().replace(",", ".") : "";
    if (m && isFinite(+m) && +m > 0) q.set("minutes", m);
    if (c && isFinite(+c) && +c > 0) q.set("clinician_max_force_n", c);
    return q.toString();
  }

  function draw(c) {
    const xs = c.t_s.map(function (t) { return t / 60; });
    const data = [xs, c.target_n, c.segment_n];
    document.getElementById("curve-summary").textContent =
      c.cycles.length + " " + labels.pulls + " · " + (c.duration_s / 60).toFixed(1) + " " + labels.minutes +
      " · " + Math.round(c.peak_force_n) + " N / " + Math.round(c.base_force_n) + " N";
    if (plot) { plot.setData(data); return; }
    plot = new uPlot({
      width: Math.max(320, el.clientWidth - 10), height: 240,
      series: [{ label: "min" },
        { label: labels.target, stroke: "#0b6bcb", width: 2, fill: "rgba(11,107,203,0.08)" },
        { label: labels.segment, stroke: "#7a3db8", width: 1.5, dash: [6, 4] }],
      scales: { x: { time: false } },
      axes: [{ label: "min" }, { label: "N", size: 50 }],
      legend: { live: false },
    }, data, el);
    window.addEventListener("resize", function () { plot.setSize({ width: Math.max(320, el.clientWidth - 10), height: 240 }); });
  }

  function load() {
    const q = query();
    if (q === asked) return;
    asked = q;
    fetch(el.dataset.url + (q ? "?" + q : ""), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (c) { if (c) { draw(c); el.dataset.ready = "1"; } });
  }
  if (form) form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(load, 300); });
  load();
})();
