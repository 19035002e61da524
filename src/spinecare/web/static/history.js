// History: the recorded session replayed from its telemetry (the whole chart, then "play" draws it
// again at 30x real time with a moving cursor).
(function () {
  const el = document.getElementById("replay");
  if (!el) return;
  const labels = JSON.parse(el.dataset.labels);
  fetch(el.dataset.url).then(function (r) { return r.json(); }).then(function (d) {
    const c = d.columns;
    const full = [c.t_s.map(function (t) { return t / 60; }), c.target_n, c.measured_n, c.segment_force_n || []];
    const guard = d.guarding_s.map(function (t) { return t / 60; });
    const marks = { hooks: { draw: [function (u) {
      const ctx = u.ctx; ctx.save(); ctx.strokeStyle = "#c62828"; ctx.setLineDash([5, 4]);
      guard.forEach(function (t) { const x = u.valToPos(t, "x", true);
        ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke(); });
      ctx.restore(); }] } };
    const plot = new uPlot({ width: el.clientWidth - 10, height: 320, plugins: [marks],
      series: [{ label: "min" }, { label: labels.target, stroke: "#0b6bcb", dash: [8, 4], width: 2 },
        { label: labels.measured, stroke: "#e0651b", width: 2 }, { label: labels.segment, stroke: "#7a3db8" }],
      scales: { x: { time: false } }, axes: [{ label: "min" }, { label: "N", size: 50 }] }, full, el);
    window.__replay = { points: c.t_s.length, guarding: guard.length };
    const btn = document.getElementById("play");
    btn.addEventListener("click", function () {
      const end = full[0][full[0].length - 1] || 0; const t0 = performance.now(); const speed = 30 / 60;
      function step() {
        const t = (performance.now() - t0) / 1000 * speed;
        let n = 0; while (n < full[0].length && full[0][n] <= t) n++;
        plot.setData(full.map(function (a) { return a.slice(0, n); }), false);
        plot.setScale("x", { min: 0, max: end });
        document.getElementById("replay-t").textContent = t.toFixed(1) + " / " + end.toFixed(1) + " min";
        if (t < end) requestAnimationFrame(step); else plot.setData(full);
      }
      requestAnimationFrame(step);
    });
  });
})();
