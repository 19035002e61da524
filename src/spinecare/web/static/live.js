// The live monitor: telemetry by Server-Sent Events into a ring of 30 s, drawn with uPlot once per
// animation frame when new ticks arrived (>= 25 frames a second at 50 Hz telemetry).
(function () {
  const root = document.getElementById("monitor");
  const sid = root.dataset.session;
  const F = JSON.parse(root.dataset.fields);
  const I = {}; F.forEach(function (name, i) { I[name] = i; });
  const phases = JSON.parse(root.dataset.phases);
  const labels = JSON.parse(root.dataset.labels);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const WINDOW_S = 30, MAX_POINTS = 1600;
  const xs = [], target = [], measured = [], segment = [], muscle = [];
  const guardTimes = [];
  let lastGuard = 0, dirty = false, lastRow = null, ended = false, paused = false;
  const stats = { frames: 0, rows: 0, lost: 0, gaps: 0, lastSeq: 0, latencies: [], fps: 0, fpsSamples: [] };
  window.__spinecare = stats;

  const chartEl = document.getElementById("chart");
  function size() { return { width: chartEl.clientWidth - 10, height: Math.max(300, window.innerHeight - 400) }; }
  const guardPlugin = { hooks: { draw: [function (u) {
    const ctx = u.ctx; ctx.save(); ctx.strokeStyle = "#c62828"; ctx.lineWidth = 2; ctx.setLineDash([6, 4]);
    guardTimes.forEach(function (t) {
      const x = u.valToPos(t, "x", true);
      if (x >= u.bbox.left && x <= u.bbox.left + u.bbox.width) {
        ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
      }
    }); ctx.restore();
  }] } };
  const peak = parseFloat(root.dataset.peak) || 100;
  const dark = document.body.classList.contains("patient-view");
  const axisInk = dark ? "#dbe7f3" : "#1d2733", gridInk = dark ? "#24415e" : "#e4e9ef";
  const plot = new uPlot(Object.assign(size(), {
    series: [{ label: "t (s)" },
      { label: labels.target, stroke: "#0b6bcb", width: 2, dash: [8, 4] },
      { label: labels.measured, stroke: "#e0651b", width: 2.5 },
      { label: labels.segment, stroke: "#7a3db8", width: 1.5 },
      { label: labels.muscle, stroke: "#1f8a4c", width: 1.5, scale: "m" }],
    scales: { x: { time: false }, y: { range: function () { return [0, Math.max(peak * 1.15, 10)]; } },
      m: { range: [0, 50] } },
    axes: [{ label: "s", stroke: axisInk, grid: { stroke: gridInk } },
      { label: "N", size: 50, stroke: axisInk, grid: { stroke: gridInk } },
      { side: 1, scale: "m", label: labels.muscle, stroke: axisInk, grid: { show: false } }],
    plugins: [guardPlugin], legend: { live: false },
  }), [xs, target, measured, segment, muscle], chartEl);
  window.addEventListener("resize", function () { plot.setSize(size()); });

  function fmtTime(s) { s = Math.max(0, Math.round(s)); return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0"); }

  function onRows(msg) {
    const now = Date.now();
    stats.lost += msg.lost;
    msg.rows.forEach(function (r) {
      if (stats.lastSeq && r[I.seq] !== stats.lastSeq + 1) stats.gaps += r[I.seq] - stats.lastSeq - 1;
      stats.lastSeq = r[I.seq];
      stats.rows += 1;
      stats.latencies.push(now - r[I.wall_ms]);
      if (stats.latencies.length > 20000) stats.latencies.splice(0, 10000);
      xs.push(r[I.t_s]); target.push(r[I.target_n]); measured.push(r[I.measured_n]);
      segment.push(r[I.segment_force_n]); muscle.push(r[I.muscle_tension_n]);
      if (r[I.guarding_events] > lastGuard) { guardTimes.push(r[I.t_s]); lastGuard = r[I.guarding_events]; }
      lastRow = r;
    });
    const t0 = xs.length ? xs[xs.length - 1] - WINDOW_S : 0;
    let cut = 0; while (cut < xs.length && (xs[cut] < t0 || xs.length - cut > MAX_POINTS)) cut++;
    if (cut) [xs, target, measured, segment, muscle].forEach(function (a) { a.splice(0, cut); });
    dirty = true;
  }

  function readouts(r) {
    const phase = r[I.phase];
    const ph = document.getElementById("phase");
    ph.textContent = phases[phase] || phase; ph.className = "phase " + phase;
    document.getElementById("v-measured").textContent = Math.round(r[I.measured_n]);
    document.getElementById("v-target").textContent = Math.round(r[I.target_n]);
    document.getElementById("v-segment").textContent = Math.round(r[I.segment_force_n]);
    document.getElementById("v-muscle").textContent = r[I.muscle_tension_n].toFixed(1);
    document.getElementById("v-left").textContent = fmtTime(r[I.time_left_s]);
    document.getElementById("countdown").textContent = fmtTime(r[I.time_left_s]);
    document.getElementById("v-guarding").textContent = r[I.guarding_events];
    const stopped = phase === "stopped" || /patient stop/.test(r[I.end_reason] || "");
    document.getElementById("v-switch").textContent = stopped ? "⏹" : "—";
    const faults = document.getElementById("faults");
    if (phase === "fault" || /^fault/.test(r[I.end_reason] || "")) { faults.hidden = false; faults.textContent = r[I.end_reason] || "FAULT"; }
    if (r[I.ended]) finish(r[I.end_reason]);
  }

  function draw() {
    if (dirty) {
      dirty = false;
      plot.setData([xs, target, measured, segment, muscle]);
      if (lastRow) readouts(lastRow);
      stats.frames += 1;
    }
    requestAnimationFrame(draw);
  }
  requestAnimationFrame(draw);
  let framesAtLastSecond = 0;
  setInterval(function () {
    stats.fps = stats.frames - framesAtLastSecond; framesAtLastSecond = stats.frames;
    stats.fpsSamples.push(stats.fps);
    document.getElementById("v-fps").textContent = stats.fps;
    const l = stats.latencies.slice(-200).sort(function (a, b) { return a - b; });
    if (l.length) document.getElementById("v-latency").textContent = Math.round(l[Math.floor(l.length * 0.5)]);
  }, 1000);

  function finish(reason) {
    if (ended) return; ended = true;
    document.getElementById("stop").disabled = true; document.getElementById("pause").disabled = true;
    const e = document.getElementById("ended"); e.hidden = false; e.textContent = reason || "";
    document.getElementById("history-link").hidden = false;
  }

  const source = new EventSource("/live/" + sid + "/stream");
  source.addEventListener("ticks", function (ev) { onRows(JSON.parse(ev.data)); });
  source.addEventListener("end", function () { source.close(); finish(lastRow ? lastRow[I.end_reason] : ""); });

  function command(path, body) {
    return fetch("/live/" + sid + "/" + path, { method: "POST", headers: { "X-CSRF-Token": csrf,
      "Content-Type": "application/x-www-form-urlencoded" }, body: body || "" });
  }
  document.getElementById("stop").addEventListener("click", function () { command("stop"); });
  const pauseBtn = document.getElementById("pause");
  pauseBtn.addEventListener("click", function () {
    paused = !paused;
    command("pause", "paused=" + (paused ? "on" : "off"));
    pauseBtn.textContent = paused ? pauseBtn.dataset.resume : pauseBtn.dataset.pause;
  });
  document.getElementById("fullscreen").addEventListener("click", function () {
    if (document.fullscreenElement) document.exitFullscreen(); else document.documentElement.requestFullscreen();
  });
})();
