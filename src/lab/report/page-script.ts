/**
 * The scripts of the report pages (plain browser JavaScript, run after Chart.js): each reads the
 * JSON in #report-data (ChartData in chart-data.ts, SequenceChartData in sequence-chart-data.ts)
 * and draws one chart per <canvas>, with the helpers below. Kept free of template-literal syntax
 * so they can live in these strings.
 */

/** Opens the page script: the data, Chart.js defaults, and line/legend helpers (axis, line, lineChart, groupedLegend). */
const helpers = String.raw`
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var DASHES = [[], [7, 4], [2, 3], [10, 4, 2, 4], [14, 6], [4, 8]];
  var POINTS = ['circle', 'triangle', 'rect', 'rectRot', 'star', 'crossRot'];

  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = '#374151';
  Chart.defaults.borderColor = '#e5e7eb';

  function fixed(v, digits) { return v === null || v === undefined ? '-' : Number(v).toFixed(digits); }

  function axis(title, extra) {
    var a = { type: 'linear', title: { display: true, text: title, font: { weight: 'bold' } } };
    for (var k in extra || {}) a[k] = extra[k];
    return a;
  }

  function legend() {
    return { position: 'bottom', labels: { usePointStyle: true, boxWidth: 8, boxHeight: 8, padding: 12 } };
  }

  // A legend with one entry per run (its colour) and one per line style (validation/test, or a
  // stage), instead of one per dataset; clicking an entry hides or shows that whole group.
  function groupedLegend(styles) {
    var hiddenRuns = {}, hiddenStyles = {};
    var base = legend();
    base.labels.generateLabels = function (chart) {
      var items = [];
      data.runs.forEach(function (run, i) {
        if (!chart.data.datasets.some(function (ds) { return ds.run === i; })) return; // nothing of this run here
        items.push({ text: run.label, fillStyle: run.color, strokeStyle: run.color, lineWidth: 0, pointStyle: 'circle', hidden: !!hiddenRuns[i], group: 'run', key: i });
      });
      if (styles.length > 1 || data.runs.length > 1) {
        styles.forEach(function (s) {
          items.push({ text: s.text, fillStyle: '#ffffff', strokeStyle: '#4b5563', lineWidth: 1.5, pointStyle: POINTS[s.style % POINTS.length], hidden: !!hiddenStyles[s.style], group: 'style', key: s.style });
        });
      }
      return items;
    };
    base.onClick = function (event, item, legendBox) {
      var chart = legendBox.chart;
      var hidden = item.group === 'run' ? hiddenRuns : hiddenStyles;
      hidden[item.key] = !hidden[item.key];
      chart.data.datasets.forEach(function (ds) { ds.hidden = !!hiddenRuns[ds.run] || !!hiddenStyles[ds.style]; });
      chart.update();
    };
    return base;
  }

  function line(label, points, run, style, opts) {
    opts = opts || {};
    var color = data.runs[run].color;
    return {
      label: label,
      run: run,
      style: style,
      data: points,
      borderColor: color,
      backgroundColor: color,
      borderWidth: opts.width || 2,
      borderDash: DASHES[style % DASHES.length],
      pointStyle: POINTS[style % POINTS.length],
      pointRadius: opts.radius === undefined ? 3 : opts.radius,
      pointHoverRadius: 5,
      pointHitRadius: 6,
      spanGaps: true,
      stepped: opts.stepped || false,
      tension: 0
    };
  }

  function lineChart(id, datasets, xTitle, yTitle, yExtra, digits, styles) {
    return new Chart(document.getElementById(id), {
      type: 'line',
      data: { datasets: datasets },
      options: {
        interaction: { mode: 'nearest', intersect: false, axis: 'x' },
        scales: { x: axis(xTitle, { ticks: { precision: 0 } }), y: axis(yTitle, yExtra) },
        plugins: {
          legend: styles ? groupedLegend(styles) : legend(),
          tooltip: { callbacks: { label: function (c) { return c.dataset.label + ': ' + fixed(c.parsed.y, digits); } } }
        }
      }
    });
  }

`;

/** Closes the page script: the page says its charts are drawn. */
const ready = String.raw`
  document.body.setAttribute('data-charts-ready', 'true');
`;

/** The feed-forward report's charts. */
export const pageScript = '(function () {' + helpers + String.raw`
  var lossSets = [], evalLossSets = [], trainAccSets = [], rateSets = [], stepSets = [], timeSets = [], synthLossSets = [], synthCosSets = [], trueCosSets = [], utilSets = [], synthStages = {};
  data.runs.forEach(function (run, i) {
    lossSets.push(line(run.label, run.loss, i, 0, { radius: 0, width: 1.5 }));
    evalLossSets.push(line(run.label + ' \u00b7 validation', run.valLossByStep, i, 0));
    evalLossSets.push(line(run.label + ' \u00b7 test', run.testLossByStep, i, 1));
    trainAccSets.push(line(run.label, run.trainAccuracy, i, 0, { radius: 0, width: 1.5 }));
    // held until the next decay step; a point marks the start and each decay step
    rateSets.push(line(run.label, run.learningRate, i, 0, { stepped: 'before', radius: run.learningRate.map(function (p, k) { return k === run.learningRate.length - 1 && run.decaySteps.indexOf(p.x) < 0 ? 0 : 4; }) }));
    stepSets.push(line(run.label + ' \u00b7 validation', run.valByStep, i, 0));
    stepSets.push(line(run.label + ' \u00b7 test', run.testByStep, i, 1));
    timeSets.push(line(run.label + ' \u00b7 validation', run.valByTime, i, 0));
    timeSets.push(line(run.label + ' \u00b7 test', run.testByTime, i, 1));
    run.synthesizers.forEach(function (s) {
      synthStages[s.stage] = true;
      synthLossSets.push(line(run.label + ' \u00b7 stage ' + s.stage, s.loss, i, s.stage));
      synthCosSets.push(line(run.label + ' \u00b7 stage ' + s.stage, s.cosine, i, s.stage));
    });
    run.probes.forEach(function (s) {
      synthStages[s.stage] = true;
      trueCosSets.push(line(run.label + ' \u00b7 stage ' + s.stage, s.cosine, i, s.stage));
    });
    var util = data.stageLabels.map(function () { return null; });
    var detail = data.stageLabels.map(function () { return null; });
    run.utilisation.forEach(function (s) {
      if (s.stage < util.length) { util[s.stage] = s.utilisation; detail[s.stage] = s; }
    });
    utilSets.push({ label: run.label, data: util, detail: detail, backgroundColor: run.color, borderColor: run.color, borderWidth: 1, pointStyle: 'rect' });
  });
  var accuracyStyles = [{ text: 'validation', style: 0 }, { text: 'test', style: 1 }];
  var stageStyles = Object.keys(synthStages).map(Number).sort(function (a, b) { return a - b; }).map(function (s) {
    return { text: 'stage ' + s, style: s };
  });

  lineChart('loss', lossSets, 'step', 'training loss (log scale)', { type: 'logarithmic' }, 4, null);
  lineChart('eval-loss', evalLossSets, 'step', 'loss (log scale)', { type: 'logarithmic' }, 4, accuracyStyles);
  lineChart('train-accuracy', trainAccSets, 'step', 'training accuracy', {}, 4, null);
  lineChart('learning-rate', rateSets, 'step', 'learning rate (log scale)', { type: 'logarithmic' }, 6, null);
  lineChart('accuracy-step', stepSets, 'step', 'accuracy', {}, 4, accuracyStyles);
  lineChart('accuracy-time', timeSets, 'wall time since the first metrics line (s)', 'accuracy', {}, 4, accuracyStyles);
  lineChart('synth-loss', synthLossSets, 'epoch', 'synthesizer loss', {}, 4, stageStyles);
  lineChart('synth-cosine', synthCosSets, 'epoch', 'cosine similarity', {}, 3, stageStyles);
  lineChart('true-cosine', trueCosSets, 'step', 'cosine with the true gradient', {}, 3, stageStyles);

  new Chart(document.getElementById('utilisation'), {
    type: 'bar',
    data: { labels: data.stageLabels, datasets: utilSets },
    options: {
      scales: {
        x: { title: { display: true, text: 'stage', font: { weight: 'bold' } } },
        y: axis('work / (busy + wait)', { min: 0, max: 1, ticks: { callback: function (v) { return Math.round(v * 100) + '%'; } } })
      },
      plugins: {
        legend: legend(),
        tooltip: {
          callbacks: {
            label: function (c) {
              var d = c.dataset.detail[c.dataIndex];
              var text = c.dataset.label + ': ' + (c.parsed.y === null ? '-' : (c.parsed.y * 100).toFixed(1) + '%');
              return d ? text + ' (busy ' + fixed(d.busySeconds, 1) + ' s, of it waiting for a core ' + fixed(d.runQueueSeconds, 1) + ' s; wait ' + fixed(d.waitSeconds, 1) + ' s)' : text;
            }
          }
        }
      }
    }
  });
  // A sweep: test error against the update probability p, one line per mode (log-scale p axis).
  if (data.errorVsP) {
    var MODE_COLORS = { backprop: '#59a14f', dni: '#4e79a7', cdni: '#e15759' };
    new Chart(document.getElementById('error-vs-p'), {
      type: 'line',
      data: {
        datasets: data.errorVsP.map(function (series, i) {
          var color = MODE_COLORS[series.mode] || '#9c755f';
          return { label: series.mode, data: series.points, borderColor: color, backgroundColor: color, borderWidth: 2, pointStyle: POINTS[i % POINTS.length], pointRadius: 4, pointHoverRadius: 6, tension: 0 };
        })
      },
      options: {
        interaction: { mode: 'nearest', intersect: true },
        scales: {
          x: axis('update probability p (log scale)', { type: 'logarithmic', ticks: { callback: function (v) { return [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1].indexOf(Number(v)) >= 0 ? String(v) : ''; } } }),
          y: axis('test error (%)', { beginAtZero: true })
        },
        plugins: {
          legend: legend(),
          tooltip: { callbacks: { label: function (c) { return c.dataset.label + ' p = ' + c.raw.x + ': ' + fixed(c.raw.y, 2) + '% (' + c.raw.run + ')'; } } }
        }
      }
    });
  }

` + ready + '})();';

/** The sequence report's charts (synthgrad sequence runs; data: SequenceChartData). */
export const sequencePageScript =
  '(function () {' +
  helpers +
  String.raw`
  var stepSets = [], timeSets = [], curriculumSets = [], synthLossSets = [], synthCosSets = [], layers = {};
  data.runs.forEach(function (run, i) {
    stepSets.push(line(run.label, run.lossByStep, i, 0, { radius: 0, width: 1.5 }));
    timeSets.push(line(run.label, run.lossByTime, i, 0, { radius: 0, width: 1.5 }));
    if (run.length.length) {
      curriculumSets.push(line(run.label + ' \u00b7 current length', run.length, i, 0, { stepped: 'before', radius: 0 }));
      curriculumSets.push(line(run.label + ' \u00b7 largest solved', run.solved, i, 1, { stepped: 'before', radius: 0 }));
    }
    run.synthesizers.forEach(function (s) {
      layers[s.layer] = true;
      synthLossSets.push(line(run.label + ' \u00b7 layer ' + s.layer, s.loss, i, s.layer, { radius: 2 }));
      synthCosSets.push(line(run.label + ' \u00b7 layer ' + s.layer, s.cosine, i, s.layer, { radius: 2 }));
    });
  });
  var layerStyles = Object.keys(layers).map(Number).sort(function (a, b) { return a - b; }).map(function (l) {
    return { text: 'layer ' + l, style: l };
  });
  lineChart('seq-loss-step', stepSets, 'window (step)', data.lossAxis, {}, 4, null);
  lineChart('seq-loss-time', timeSets, 'wall time since the first metrics line (s)', data.lossAxis, {}, 4, null);
  lineChart('seq-curriculum', curriculumSets, 'window (step)', 'sequence length', { beginAtZero: true, ticks: { precision: 0 } }, 0, [{ text: 'current length', style: 0 }, { text: 'largest solved', style: 1 }]);
  lineChart('seq-synth-loss', synthLossSets, 'window (step)', 'time synthesizer loss (log scale)', { type: 'logarithmic' }, 6, layerStyles);
  lineChart('seq-synth-cosine', synthCosSets, 'window (step)', 'cosine with its target', {}, 3, layerStyles);
` +
  ready +
  '})();';
