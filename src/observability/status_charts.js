// The status page's charts, one per trigger: the last hour of its fleet figure F
// against its threshold (left axis), and the present units N and the replicas the
// HPA aims at (right axis), from the document of /status/history that the page
// carries (<script id="history">), with Chart.js 3 (Debian 12's), loaded before it.
// Names come from the network: they reach the page as text (canvas, attributes),
// never as HTML.
'use strict';

// After each draw the canvas says what it drew: each dataset's label and how many
// points it placed (a missing value is a gap, not a point), for tests and for
// whoever wonders why a line is short.
const recordDrawn = {
  id: 'recordDrawn',
  afterRender(chart) {
    chart.canvas.dataset.drawn =
        chart.data.datasets
            .map((dataset, i) => {
              const placed = chart.getDatasetMeta(i).data.filter((point) => !point.skip);
              return `${dataset.label}=${placed.length}`;
            })
            .join(';');
  },
};

const clock = (seconds) => new Date(seconds * 1000).toLocaleTimeString([], {
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});
const axisTitle = (text) => ({display: true, text});

// `history`: the document of /status/history.
function drawCharts(history) {
  const container = document.getElementById('charts');
  // Points further apart than this are not joined: nothing asked in between (the
  // HPA asks every 15 s by default, so its answers are at most 2 slots apart).
  const joinWithin = 3 * history.interval_seconds;
  const start = history.now - history.span_seconds;
  // A tick on each round 10 minutes of the clock, not 10 minutes from the hour's start.
  const tickEvery = 600;
  const roundTicks = (axis) => {
    axis.ticks = [];
    for (let t = Math.ceil(start / tickEvery) * tickEvery; t <= history.now; t += tickEvery) {
      axis.ticks.push({value: t});
    }
  };
  for (const series of history.triggers) {
    const points = (values) => series.time.map((t, i) => ({x: t, y: values[i]}));
    const title = `${series.scaled_object}: ${series.metric}`;
    const figure = document.createElement('figure');
    const canvas = document.createElement('canvas');
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', `${title} (${series.target}), the last hour`);
    figure.appendChild(canvas);
    container.appendChild(figure);
    new Chart(canvas, {
      type: 'line',
      data: {
        datasets: [
          {
            label: `F (${series.metric})`,
            data: points(series.figure),
            yAxisID: 'figure',
            borderColor: '#1f77b4',
            backgroundColor: '#1f77b4',
            borderWidth: 2,
          },
          {
            label: `threshold ${series.threshold}`,
            data: [
              {x: start, y: series.threshold},
              {x: history.now, y: series.threshold},
            ],
            yAxisID: 'figure',
            borderColor: '#d62728',
            backgroundColor: '#d62728',
            borderDash: [6, 4],
            borderWidth: 1.5,
            pointRadius: 0,
            spanGaps: true,  // its two ends are an hour apart
          },
          {
            label: 'units N',
            data: points(series.units),
            yAxisID: 'replicas',
            stepped: 'before',
            borderColor: '#2ca02c',
            backgroundColor: '#2ca02c',
          },
          {
            label: 'HPA desired replicas',
            data: points(series.desired_replicas),
            yAxisID: 'replicas',
            stepped: 'before',
            borderColor: '#ff7f0e',
            backgroundColor: '#ff7f0e',
          },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        spanGaps: joinWithin,
        elements: {point: {radius: 1.5}},
        interaction: {mode: 'nearest', axis: 'x', intersect: false},
        scales: {
          x: {
            type: 'linear',
            min: start,
            max: history.now,
            title: axisTitle('time'),
            afterBuildTicks: roundTicks,
            ticks: {callback: clock},
          },
          figure: {
            position: 'left',
            beginAtZero: true,
            title: axisTitle(`F: ${series.metric}`),
          },
          replicas: {
            position: 'right',
            beginAtZero: true,
            title: axisTitle('replicas'),
            ticks: {precision: 0},
            grid: {drawOnChartArea: false},
          },
        },
        plugins: {
          title: {
            display: true,
            text: [title, `${series.target} · ${series.metric_type}`],
          },
          legend: {position: 'bottom', labels: {boxHeight: 2}},
          tooltip: {callbacks: {title: (items) => clock(items[0].parsed.x)}},
        },
      },
      plugins: [recordDrawn],
    });
  }
}

drawCharts(JSON.parse(document.getElementById('history').textContent));
