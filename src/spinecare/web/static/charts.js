// Small outcome and progression charts: <div data-chart='{"x": [...], "series": [[label, [...]], ...], "ymax": 10}'>
(function () {
  const colours = ["#0b6bcb", "#e0651b", "#7a3db8", "#1f8a4c"];
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    const spec = JSON.parse(el.dataset.chart);
    if (!spec.x || !spec.x.length) return;
    const series = [{ label: "#" }].concat(spec.series.map(function (s, i) {
      return { label: s[0], stroke: colours[i % colours.length], width: 2, points: { show: true, size: 6 } };
    }));
    const data = [spec.x].concat(spec.series.map(function (s) { return s[1]; }));
    const width = Math.max(280, el.clientWidth || el.parentElement.clientWidth - 20);
    window.__charts = window.__charts || [];
    window.__charts.push(new uPlot({ width: width, height: el.classList.contains("mini-chart") ? 140 : 200, series: series,
      scales: { x: { time: false }, y: spec.ymax ? { range: [0, spec.ymax] } : {} },
      // x is a session number: whole steps only (uPlot picked 0.5 steps for short courses)
      axes: [{ incrs: [1, 2, 5, 10, 20, 50], values: function (u, v) { return v.map(String); } },
        { size: 40 }], legend: { show: true } }, data, el));
  });
})();
