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
  // The mode's target curve ahead of time (GET /live/{sid}/curve.json): drawn over the window,
  // WINDOW_AHEAD_S of it beyond the newest tick, the live trace over it. A PAUSE holds the
  // programme: the plan moves right by the time spent paused.
  const WINDOW_AHEAD_S = 10;
  let plan = null, pausedFor = 0, lastT = null;
  const planPlugin = { hooks: { draw: [function (u) {
    if (!plan) return;
    const lo = u.scales.x.min, hi = u.scales.x.max, ctx = u.ctx;
    ctx.save(); ctx.strokeStyle = dark ? "rgba(160,200,255,0.55)" : "rgba(11,107,203,0.35)";
    ctx.lineWidth = 6; ctx.lineJoin = "round"; ctx.beginPath();
    let started = false;
    for (let i = 0; i < plan.t_s.length; i++) {
      const t = plan.t_s[i] + pausedFor;
      if (t < lo - 1 || t > hi + 1) continue;
      const x = u.valToPos(t, "x", true), y = u.valToPos(plan.target_n[i], "y", true);
      if (!started) { ctx.moveTo(x, y); started = true; } else ctx.lineTo(x, y);
    }
    ctx.stroke(); ctx.restore();
  }] } };
  fetch("/live/" + sid + "/curve.json", { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (c) { if (c) { plan = c; root.dataset.plan = "1"; dirty = true; } });
  const peak = parseFloat(root.dataset.peak) || 100;
  const dark = document.body.classList.contains("patient-view");
  const axisInk = dark ? "#dbe7f3" : "#1d2733", gridInk = dark ? "#24415e" : "#e4e9ef";
  const plot = new uPlot(Object.assign(size(), {
    series: [{ label: "t (s)" },
      { label: labels.target, stroke: "#0b6bcb", width: 2, dash: [8, 4] },
      { label: labels.measured, stroke: "#e0651b", width: 2.5 },
      { label: labels.segment, stroke: "#7a3db8", width: 1.5 },
      { label: labels.muscle, stroke: "#1f8a4c", width: 1.5, scale: "m" }],
    scales: { x: { time: false, range: function (u, lo, hi) {
        const end = xs.length ? xs[xs.length - 1] : 0;
        return [Math.max(0, end - (WINDOW_S - WINDOW_AHEAD_S)), Math.max(WINDOW_S, end + WINDOW_AHEAD_S)];
      } }, y: { range: function () { return [0, Math.max(peak * 1.15, 10)]; } },
      m: { range: [0, 50] } },
    axes: [{ label: "s", stroke: axisInk, grid: { stroke: gridInk } },
      { label: "N", size: 50, stroke: axisInk, grid: { stroke: gridInk } },
      { side: 1, scale: "m", label: labels.muscle, stroke: axisInk, grid: { show: false } }],
    plugins: [planPlugin, guardPlugin], legend: { live: false },
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
      if (lastT !== null && r[I.phase] === "paused") pausedFor += r[I.t_s] - lastT;
      lastT = r[I.t_s];
      xs.push(r[I.t_s]); target.push(r[I.target_n]); measured.push(r[I.measured_n]);
      segment.push(r[I.segment_force_n]); muscle.push(r[I.muscle_tension_n]);
      if (r[I.guarding_events] > lastGuard) { guardTimes.push(r[I.t_s]); lastGuard = r[I.guarding_events]; }
      noteMessages(r);
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
    const pressed = !!r[I.stop_pressed];
    const sw = document.getElementById("v-switch");
    sw.textContent = pressed ? sw.dataset.pressed : sw.dataset.free;
    document.getElementById("switch-box").classList.toggle("pressed", pressed);
    drawMessages(r[I.t_s]);
    if (r[I.ended]) finish(r[I.end_reason]);
  }

  // Messages by severity: a latched fault stays (the table releases, the session ends); a warning
  // or note shows while it lasts and MESSAGE_HOLD_S after (a clamp acts tick by tick).
  const MESSAGE_HOLD_S = 3, ORDER = { error: 0, warning: 1, info: 2 };
  const texts = JSON.parse(root.dataset.messages), clampSeverity = JSON.parse(root.dataset.clampSeverity);
  const emgFine = JSON.parse(root.dataset.emgFine);
  const seen = {};
  let shownMessages = "";
  function noteMessages(r) {
    const t = r[I.t_s];
    (r[I.faults] || []).forEach(function (k) { seen["fault:" + k] = { sev: "error", t: Infinity }; });
    const emg = r[I.emg_status] || "";
    if (emgFine.indexOf(emg) < 0) seen["emg:" + emg] = { sev: "warning", t: t };
    (r[I.flags] || []).forEach(function (f) {
      if (f.indexOf("clamp:") === 0) seen[f] = { sev: clampSeverity[f.slice(6)] || "warning", t: t };
    });
  }
  function drawMessages(now) {
    const items = Object.keys(seen).filter(function (k) { return now - seen[k].t <= MESSAGE_HOLD_S; })
      .sort(function (a, b) { return ORDER[seen[a].sev] - ORDER[seen[b].sev] || a.localeCompare(b); });
    const key = items.join("|");
    if (key === shownMessages) return;
    shownMessages = key;
    const ul = document.getElementById("messages");
    ul.textContent = "";
    items.forEach(function (k) {
      const li = document.createElement("li"); li.className = "sev-" + seen[k].sev;
      const b = document.createElement("b"); b.textContent = (texts[seen[k].sev] || seen[k].sev) + ": ";
      li.appendChild(b); li.appendChild(document.createTextNode(texts[k] || k)); ul.appendChild(li);
    });
    if (!items.length) { const li = document.createElement("li"); li.className = "muted"; li.textContent = "—"; ul.appendChild(li); }
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
