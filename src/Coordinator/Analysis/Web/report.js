// The NasCluster report: draws the analysis documents (ExperimentAnalysis.Build) with ECharts. The same code
// draws the self-contained report file and the live dashboard, which calls NasReport.render again when
// trials land. No network access: ECharts and the data are inlined in the page.
(function () {
  'use strict';
  var COLORS = ['#2f6fdd', '#d9480f', '#2b8a3e', '#862e9c', '#e67700', '#0b7285', '#c2255c', '#5c940d'];
  var BOUND_COLORS = { 'compute': '#2b8a3e', 'weight load': '#e67700', 'activation bandwidth': '#862e9c', 'off-chip': '#c92a2a', 'overhead': '#868e96' };
  var state = { data: null, primary: 0, selected: null, sort: { key: 'id', dir: 1 }, charts: {} };

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  // A quality as shown: with several seeds per trial, ± the mean's standard error.
  function quality(t) { return fmt(t.quality) + (t.quality_se !== undefined && t.quality_se !== null ? ' ± ' + fmt(t.quality_se) : ''); }

  // Whether a front trial's quality is told apart from its neighbours' on the latency front (difference > 2 standard errors).
  function noiseNote(x, t) {
    if (t.quality_se === undefined || !t.pareto_latency) return null;
    var front = x.trials.filter(function (o) { return o.pareto_latency; }).sort(function (a, b) { return a.latency_ms - b.latency_ms; });
    var i = front.indexOf(t), close = [];
    [front[i - 1], front[i + 1]].forEach(function (o) {
      if (!o) return;
      var se = Math.sqrt(t.quality_se * t.quality_se + o.quality_se * o.quality_se);
      if (Math.abs(t.quality - o.quality) <= 2 * se) close.push('trial ' + o.id);
    });
    return close.length ? 'not told apart from ' + close.join(' and ') + ' (within 2 standard errors)' : 'told apart from its neighbours on the latency front';
  }

  function fmt(v, digits) {
    if (v === null || v === undefined) return '–';
    if (typeof v !== 'number') return String(v);
    if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(2) + 'M';
    return v.toFixed(digits === undefined ? 4 : digits);
  }
  function count(v) {
    if (v === null || v === undefined) return '–';
    if (v >= 1e9) return (v / 1e9).toFixed(2) + 'G';
    if (v >= 1e6) return (v / 1e6).toFixed(2) + 'M';
    if (v >= 1e3) return (v / 1e3).toFixed(1) + 'k';
    return String(v);
  }
  function chart(id) {
    var dom = $(id);
    var c = state.charts[id] || echarts.getInstanceByDom(dom) || echarts.init(dom, null, { renderer: 'canvas' });
    state.charts[id] = c;
    return c;
  }
  function exp() { return state.data.experiments[state.primary]; }
  function choice(x, d, index) { return x.decisions[d].choices[index]; }
  function completed(x) { return x.trials.filter(function (t) { return t.status === 'completed' && t.reward !== null; }); }
  function decisionsOf(x, t) {
    var o = {};
    x.decisions.forEach(function (d, i) { o[d.name] = d.choices[t.v[i]]; });
    return o;
  }

  function select(expIndex, trialId) {
    var switched = expIndex !== state.primary;
    state.primary = expIndex;
    state.selected = trialId;
    if (switched) { renderAll(); return; } // every single-experiment view follows the selected trial's experiment
    renderSelected();
    highlightRow();
  }

  // ----- header, provenance -----

  function renderHeader() {
    var xs = state.data.experiments;
    var x = exp();
    $('summary').textContent = xs.length === 1 ? x.name + ' (' + x.state + ')' : xs.length + ' experiments';
    $('trial-count').textContent = x.counts.proposed + ' trials (' + x.counts.completed + ' completed, ' + x.counts.failed + ' failed, ' +
      x.counts.in_flight + ' in flight; target ' + x.counts.target + ')' +
      (x.counts.preempted ? '; ' + x.counts.preempted + ' attempts preempted (their node left)' : '');
    var nav = $('experiments');
    nav.innerHTML = '';
    xs.forEach(function (e, i) {
      var chip = el('span', { 'class': 'chip' + (i === state.primary ? ' active' : ''), 'data-experiment': e.name });
      var dot = el('i'); dot.style.background = COLORS[i % COLORS.length];
      chip.appendChild(dot);
      chip.appendChild(document.createTextNode(e.name + ' · ' + e.state + ' · best ' + fmt(e.best_reward)));
      chip.addEventListener('click', function () { state.primary = i; state.selected = null; renderAll(); });
      nav.appendChild(chip);
    });
    var p = $('provenance');
    p.innerHTML = '';
    var pv = x.provenance;
    [['space', pv.space + ' (' + pv.space_name + ', ' + pv.task + ', 10^' + pv.space_size_log10 + ' candidates)'],
     ['space fingerprint', pv.space_fingerprint], ['hardware', pv.hardware + ' · fingerprint ' + pv.hardware_fingerprint],
     ['simulator', pv.simulator + ' (' + pv.fidelity + ')'], ['controller', pv.controller + ', seed ' + pv.seed + ', ' + pv.mode + ' batches of ' + pv.batch],
     ['objective', pv.objective], ['quality', pv.quality], ['forked from', pv.forked_from],
     ['created', pv.created_unix_ms ? new Date(pv.created_unix_ms).toISOString() : null],
     ['finished', pv.finished_unix_ms ? new Date(pv.finished_unix_ms).toISOString() : null],
     ['journal', pv.journal_events + ' events'], ['code version', pv.code_version]].forEach(function (kv) {
      if (kv[1] === null || kv[1] === undefined) return;
      p.appendChild(el('div', null, kv[0]));
      p.appendChild(el('div', { 'data-field': kv[0] }, kv[1]));
    });
  }

  // ----- fronts and history (all experiments overlaid) -----

  // Tooltips are HTML: everything from the data (names, choices from a user's space file) is escaped.
  function esc(v) { return String(v).replace(/[&<>"']/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; }); }

  function tooltip(x, t) {
    var d = decisionsOf(x, t);
    var lines = ['<b>' + esc(x.name) + ' · trial ' + t.id + '</b>', 'hash ' + esc(t.hash.slice(0, 16)), 'reward ' + fmt(t.reward) + ' · quality ' + quality(t),
      'latency ' + fmt(t.latency_ms, 3) + ' ms · energy ' + fmt(t.energy_mj, 3) + ' mJ'];
    var names = Object.keys(d);
    lines.push(names.slice(0, 12).map(function (n) { return esc(n) + '=' + esc(d[n]); }).join(', ') + (names.length > 12 ? ', … (' + names.length + ' decisions)' : ''));
    return lines.join('<br>');
  }

  function renderFront(id, metric, frontKey, unit) {
    var series = [];
    state.data.experiments.forEach(function (x, i) {
      var color = COLORS[i % COLORS.length];
      var pts = completed(x).filter(function (t) { return t.reused_from === undefined && t[metric] !== null && t.quality !== null; });
      var z = i === state.primary ? 4 : 2;
      series.push({ name: x.name, type: 'scatter', z: z, symbolSize: 5, itemStyle: { color: color, opacity: 0.35 }, large: pts.length > 3000,
        data: pts.map(function (t) { return { value: [t[metric], t.quality], trial: t.id, exp: i }; }) });
      var front = pts.filter(function (t) { return t[frontKey]; }).sort(function (a, b) { return a[metric] - b[metric]; });
      series.push({ name: x.name + ' Pareto', type: 'line', z: z + 1, step: 'end', symbol: 'diamond', symbolSize: 10, itemStyle: { color: color }, lineStyle: { color: color, width: 2 },
        data: front.map(function (t) { return { value: [t[metric], t.quality], trial: t.id, exp: i }; }) });
    });
    var c = chart(id);
    c.setOption({
      animation: false, legend: { top: 0, type: 'scroll' }, grid: { left: 60, right: 20, top: 36, bottom: 44 },
      tooltip: { trigger: 'item', formatter: function (p) { var x = state.data.experiments[p.data.exp]; return tooltip(x, x.trials[p.data.trial]); } },
      xAxis: { type: 'value', name: metric.replace('_', ' (') + ')', nameLocation: 'middle', nameGap: 26, scale: true },
      yAxis: { type: 'value', name: 'quality', scale: true }, series: series,
    }, true);
    c.off('click');
    c.on('click', function (p) { if (p.data && p.data.trial !== undefined) select(p.data.exp, p.data.trial); });
  }

  function renderHistory() {
    var series = [];
    state.data.experiments.forEach(function (x, i) {
      var color = COLORS[i % COLORS.length];
      var done = completed(x);
      var z = i === state.primary ? 4 : 2;
      series.push({ name: x.name, type: 'scatter', z: z, symbolSize: 4, itemStyle: { color: color, opacity: 0.3 }, large: done.length > 3000,
        data: done.map(function (t) { return { value: [t.id, t.reward], trial: t.id, exp: i }; }) });
      series.push({ name: x.name + ' best so far', type: 'line', z: z + 1, step: 'end', showSymbol: false, lineStyle: { color: color, width: 2 },
        data: x.trials.filter(function (t) { return t.best_so_far !== null; }).map(function (t) { return { value: [t.id, t.best_so_far], trial: t.id, exp: i }; }) });
    });
    var c = chart('chart-history');
    c.setOption({
      animation: false, legend: { top: 0, type: 'scroll' }, grid: { left: 60, right: 20, top: 36, bottom: 44 },
      tooltip: { trigger: 'item', formatter: function (p) { var x = state.data.experiments[p.data.exp]; return tooltip(x, x.trials[p.data.trial]); } },
      dataZoom: [{ type: 'inside' }], xAxis: { type: 'value', name: 'trial', nameLocation: 'middle', nameGap: 26 },
      yAxis: { type: 'value', name: 'reward', scale: true }, series: series,
    }, true);
    c.off('click');
    c.on('click', function (p) { if (p.data && p.data.trial !== undefined) select(p.data.exp, p.data.trial); });
  }

  // ----- the controller's learning (primary experiment) -----

  function renderLearning() {
    var x = exp();
    var l = x.learning;
    $('learning-kind').textContent = l.kind === 'policy' ? 'REINFORCE: after each controller update' : x.provenance.controller + ': over windows of proposed trials (population frequencies)';
    chart('chart-learning').setOption({
      animation: false, legend: { top: 0 }, tooltip: { trigger: 'axis' }, grid: { left: 60, right: 60, top: 36, bottom: 44 },
      xAxis: { type: 'category', data: l.trials, name: 'trials observed', nameLocation: 'middle', nameGap: 26 },
      yAxis: [{ type: 'value', name: 'reward', scale: true }, { type: 'value', name: 'entropy (nats/decision)', scale: true }],
      series: [
        { name: 'mean reward', type: 'line', data: l.mean_reward, showSymbol: false },
        { name: 'baseline', type: 'line', data: l.baseline, showSymbol: false },
        { name: 'entropy', type: 'line', yAxisIndex: 1, data: l.entropy, showSymbol: false },
      ],
    }, true);
    var sel = $('decision-select');
    var previous = sel.value;
    sel.innerHTML = '';
    x.decisions.forEach(function (d, i) { sel.appendChild(el('option', { value: String(i) }, d.name)); });
    var moving = x.decisions.map(function (d, i) {
      var ps = l.probabilities[i];
      if (!ps || ps.length === 0) return 0;
      var first = ps[0], last = ps[ps.length - 1];
      return first.reduce(function (a, p, k) { return a + Math.abs(p - last[k]); }, 0);
    });
    var pick = previous !== '' && Number(previous) < x.decisions.length ? Number(previous) : moving.indexOf(Math.max.apply(null, moving.length ? moving : [0]));
    sel.value = String(Math.max(0, pick));
    sel.onchange = renderProbabilities;
    renderProbabilities();
  }

  function renderProbabilities() {
    var x = exp();
    var d = Number($('decision-select').value || 0);
    var ps = x.learning.probabilities[d] || [];
    var dec = x.decisions[d];
    chart('chart-probabilities').setOption({
      animation: false, legend: { top: 0 }, tooltip: { trigger: 'axis' }, grid: { left: 60, right: 20, top: 36, bottom: 44 },
      xAxis: { type: 'category', data: x.learning.trials, name: 'trials observed', nameLocation: 'middle', nameGap: 26 },
      yAxis: { type: 'value', min: 0, max: 1, name: x.learning.kind === 'policy' ? 'probability' : 'frequency' },
      series: dec.choices.map(function (c, k) { return { name: String(c), type: 'line', stack: 'p', areaStyle: {}, showSymbol: false, data: ps.map(function (p) { return p[k]; }) }; }),
    }, true);
  }

  // ----- parallel coordinates (primary experiment) -----

  function renderParallel() {
    var x = exp();
    var sel = $('parallel-field');
    var fields = [];
    x.decisions.forEach(function (d) { if (fields.indexOf(d.field) < 0) fields.push(d.field); });
    var previous = sel.value;
    sel.innerHTML = '';
    fields.forEach(function (f) { sel.appendChild(el('option', { value: f }, f)); });
    sel.value = fields.indexOf(previous) >= 0 ? previous : (fields.indexOf('type') >= 0 ? 'type' : fields[0]);
    sel.onchange = renderParallel;
    var idx = [];
    x.decisions.forEach(function (d, i) { if (d.field === sel.value) idx.push(i); });
    idx = idx.slice(0, 24);
    var axes = idx.map(function (i, k) { return { dim: k, name: x.decisions[i].name, type: 'category', data: x.decisions[i].choices.map(String) }; });
    var n = axes.length;
    axes.push({ dim: n, name: 'latency ms', scale: true }, { dim: n + 1, name: 'quality', scale: true }, { dim: n + 2, name: 'reward', scale: true });
    var done = completed(x);
    chart('chart-parallel').setOption({
      animation: false, parallelAxis: axes, parallel: { left: 40, right: 60, top: 40, bottom: 30, parallelAxisDefault: { nameRotate: 30, nameTextStyle: { fontSize: 10 } } },
      visualMap: { show: true, dimension: n + 2, min: Math.min.apply(null, done.map(function (t) { return t.reward; }).concat([0])),
        max: Math.max.apply(null, done.map(function (t) { return t.reward; }).concat([1])), calculable: true, orient: 'vertical', right: 0, top: 40, inRange: { color: ['#d0d7e5', '#2f6fdd', '#0b3d91'] } },
      series: [{ type: 'parallel', lineStyle: { width: 1, opacity: 0.35 }, progressive: 2000,
        data: done.map(function (t) { return idx.map(function (i) { return String(choice(x, i, t.v[i])); }).concat([t.latency_ms, t.quality, t.reward]); }) }],
    }, true);
  }

  // ----- the selected trial -----

  function renderSelected() {
    var x = exp();
    var t = state.selected === null ? null : x.trials[state.selected];
    var summary = $('selected-summary'), decisions = $('selected-decisions'), layers = $('selected-layers');
    summary.innerHTML = ''; decisions.innerHTML = ''; layers.innerHTML = '';
    var lc = chart('chart-layers');
    if (!t) { $('selected-title').textContent = 'none: click a point or a row'; lc.clear(); return; }
    $('selected-title').textContent = x.name + ' · trial ' + t.id + ' · ' + t.hash.slice(0, 16);
    $('selected-title').setAttribute('data-trial', String(t.id));
    var src = t.reused_from !== undefined ? t.reused_from : t.id;
    var info = x.layers[String(src)];
    var net = info ? info.network : null;
    [['status', t.status + (t.failure ? ': ' + t.failure : '')], ['reward', fmt(t.reward)], ['quality', quality(t)],
     ['seeds', t.quality_seeds ? t.quality_seeds.map(function (q) { return fmt(q); }).join(', ') : null],
     ['noise', noiseNote(x, t)],
     ['latency', fmt(t.latency_ms, 3) + ' ms' + (net ? ' (host ' + fmt(net.host_ms, 3) + ' ms of it: runtime overhead ' + fmt(net.runtime_overhead_ms, 3) + ' ms' +
       (net.cpu_ms > 0 ? ', host CPU ' + fmt(net.cpu_ms, 3) + ' ms' : '') + ')' : '')],
     ['segments', net && net.segments && (net.segments.length > 1 || net.cpu_ms > 0) ? net.segments.join(' → ') : null],
     ['energy', fmt(t.energy_mj, 4) + ' mJ' + (net ? ' · ' + fmt(net.power_w, 3) + ' W active, ' + fmt(net.average_power_w, 3) + ' W average' : '')],
     ['power budget', t.over_power_budget ? 'over the ' + fmt(x.power_budget_w, 3) + ' W budget: the device would throttle' : null],
     ['params', count(t.params)], ['MACs', count(t.macs)],
     ['pareto', (t.pareto_latency ? 'latency ' : '') + (t.pareto_energy ? 'energy' : '') || 'no'],
     ['network', net ? net.layers + ' layers · utilisation ' + fmt(net.utilization, 3) + ' · weights cached ' + count(net.cached_weight_bytes) + 'B, streamed ' +
       count(net.streamed_weight_bytes) + 'B, activations spilled ' + count(net.activation_spill_bytes) + 'B' : null],
     ['reused from', t.reused_from !== undefined ? 'trial ' + t.reused_from : null], ['trained in', t.train_seconds !== undefined ? t.train_seconds + ' s' : null]].forEach(function (kv) {
      if (kv[1] === null || kv[1] === undefined) return;
      summary.appendChild(el('div', null, kv[0]));
      summary.appendChild(el('div', null, kv[1]));
    });
    var d = decisionsOf(x, t);
    Object.keys(d).forEach(function (k) { decisions.appendChild(el('span', { 'class': 'pill' }, k + ' = ' + d[k])); });
    if (!info) {
      lc.clear();
      layers.appendChild(el('p', { 'class': 'muted', id: 'no-layers' }, 'The per-layer breakdown is embedded for ' + x.layers_embedded_for +
        '; this trial is not one of them (`nascluster report --layers all` embeds every trial, `nascluster estimate` prices any one).'));
      return;
    }
    var rows = info.rows;
    lc.setOption({
      animation: false, legend: { top: 0 }, tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } }, grid: { left: 130, right: 60, top: 30, bottom: 30 },
      yAxis: { type: 'category', inverse: true, data: rows.map(function (r) { return r[0]; }), axisLabel: { fontSize: 9 } },
      xAxis: [{ type: 'value', name: 'latency ms' }, { type: 'value', name: 'energy µJ', position: 'top' }],
      dataZoom: [{ type: 'slider', yAxisIndex: 0, right: 10, width: 14, start: 0, end: Math.min(100, 100 * 40 / Math.max(rows.length, 1)) }],
      series: [
        { name: 'latency', type: 'bar', data: rows.map(function (r) { return { value: r[2], itemStyle: { color: BOUND_COLORS[r[5]] || '#888' } }; }) },
        { name: 'energy', type: 'bar', xAxisIndex: 1, data: rows.map(function (r) { return r[3]; }), itemStyle: { color: 'rgba(47,111,221,0.25)' } },
      ],
    }, true);
    var table = el('table', { id: 'layer-table' });
    var head = el('tr');
    ['layer', 'op', 'latency ms', 'energy µJ', 'utilisation', 'bound', 'MACs'].forEach(function (h) { head.appendChild(el('th', null, h)); });
    table.appendChild(head);
    rows.forEach(function (r) {
      var tr = el('tr', { 'class': 'layer-row' });
      tr.appendChild(el('td', null, r[0])); tr.appendChild(el('td', null, r[1]));
      tr.appendChild(el('td', { 'class': 'num' }, fmt(r[2], 5))); tr.appendChild(el('td', { 'class': 'num' }, fmt(r[3], 3)));
      tr.appendChild(el('td', { 'class': 'num' }, fmt(r[4], 3))); tr.appendChild(el('td', { 'class': 'bound-' + r[5].replace(/ /g, '-') }, r[5]));
      tr.appendChild(el('td', { 'class': 'num' }, count(r[6])));
      table.appendChild(tr);
    });
    var wrap = el('div', { 'class': 'scroll' });
    wrap.appendChild(table);
    layers.appendChild(wrap);
  }

  // ----- stages -----

  function renderStages() {
    var x = exp();
    var box = $('stages');
    box.innerHTML = '';
    if (!x.stages.length) { box.appendChild(el('p', { 'class': 'muted' }, 'This space has no staged decisions.')); return; }
    var table = el('table', { id: 'stage-table' });
    var head = el('tr');
    ['stage', 'best trial: type', 'kernel', 'expansion', 'group size', 'top 10%: type share', 'analyzer at this shape', 'analyzer: dominated here'].forEach(function (h) { head.appendChild(el('th', null, h)); });
    table.appendChild(head);
    x.stages.forEach(function (s) {
      var tr = el('tr');
      function best(f) { return s.search[f] && s.search[f].best ? s.search[f].best.join(' ') : '–'; }
      tr.appendChild(el('td', null, s.stage));
      ['type', 'kernel', 'expansion', 'group_size'].forEach(function (f) { tr.appendChild(el('td', null, best(f))); });
      var share = s.search.type ? Object.keys(s.search.type.top_share).map(function (k) { return k + ' ' + Math.round(100 * s.search.type.top_share[k]) + '%'; }).join(', ') : '–';
      tr.appendChild(el('td', null, share));
      var a = s.analyzer;
      tr.appendChild(el('td', null, a ? a.spatial + '×' + a.spatial + '×' + a.width + ': fastest ' + a.fastest + ', most params/µs ' + a.most_params_per_us : 'n/a for this space'));
      var dom = el('td'); dom.style.whiteSpace = 'normal';
      dom.textContent = a ? (a.dominated.length ? a.dominated.join('; ') : 'none') : '–';
      tr.appendChild(dom);
      table.appendChild(tr);
    });
    box.appendChild(table);
  }

  // ----- the trial table -----

  var COLUMNS = [['id', 'trial', true], ['status', 'status', false], ['reward', 'reward', true], ['quality', 'quality', true], ['latency_ms', 'latency ms', true],
    ['energy_mj', 'energy mJ', true], ['power_w', 'power W', true], ['params', 'params', true], ['macs', 'MACs', true], ['pareto', 'Pareto', false], ['hash', 'hash', false]];

  function parseFilter(text, x) {
    var tests = [];
    text.trim().split(/\s+/).filter(Boolean).forEach(function (tok) {
      var m = /^([\w.{}]+)(<=|>=|<|>|=)(.+)$/.exec(tok);
      if (!m) { var low = tok.toLowerCase(); tests.push(function (t) { return t.hash.indexOf(low) >= 0 || t.status.indexOf(low) >= 0 || String(t.id) === low; }); return; }
      var key = m[1], op = m[2], raw = m[3], num = Number(raw);
      var di = x.decisions.findIndex(function (d) { return d.name === key; });
      var get = di >= 0 ? function (t) { return choice(x, di, t.v[di]); } : function (t) { return t[key]; };
      tests.push(function (t) {
        var v = get(t);
        if (v === null || v === undefined) return false;
        if (op === '=') return String(v) === raw;
        if (isNaN(num)) return false;
        return op === '<' ? v < num : op === '>' ? v > num : op === '<=' ? v <= num : v >= num;
      });
    });
    return function (t) { return tests.every(function (f) { return f(t); }); };
  }

  function renderTable() {
    var x = exp();
    var head = document.querySelector('#trial-table thead');
    head.innerHTML = '';
    var tr = el('tr');
    COLUMNS.forEach(function (c) {
      var th = el('th', { 'data-key': c[0], 'class': (c[2] ? 'num ' : '') + (state.sort.key === c[0] ? (state.sort.dir > 0 ? 'sorted-asc' : 'sorted-desc') : '') }, c[1]);
      th.addEventListener('click', function () { state.sort = { key: c[0], dir: state.sort.key === c[0] ? -state.sort.dir : (c[2] && c[0] !== 'id' ? -1 : 1) }; renderTable(); });
      tr.appendChild(th);
    });
    head.appendChild(tr);
    var keep = parseFilter($('table-filter').value, x);
    var paretoOnly = $('table-pareto').checked;
    var rows = x.trials.filter(function (t) { return keep(t) && (!paretoOnly || t.pareto_latency || t.pareto_energy); });
    var k = state.sort.key, dir = state.sort.dir;
    rows.sort(function (a, b) {
      var va = k === 'pareto' ? (a.pareto_latency ? 2 : 0) + (a.pareto_energy ? 1 : 0) : a[k], vb = k === 'pareto' ? (b.pareto_latency ? 2 : 0) + (b.pareto_energy ? 1 : 0) : b[k];
      if (va === vb) return a.id - b.id;
      if (va === null || va === undefined) return 1;
      if (vb === null || vb === undefined) return -1;
      return (va < vb ? -1 : 1) * dir;
    });
    var shown = rows.slice(0, 500);
    $('table-count').textContent = rows.length + ' of ' + x.trials.length + ' trials' + (rows.length > shown.length ? ' (first ' + shown.length + ' shown)' : '');
    var body = document.querySelector('#trial-table tbody');
    body.innerHTML = '';
    shown.forEach(function (t) {
      var r = el('tr', { 'class': 'trial-row', 'data-trial': String(t.id) });
      r.appendChild(el('td', { 'class': 'num' }, t.id));
      r.appendChild(el('td', null, t.status + (t.reused_from !== undefined ? ' (reuses ' + t.reused_from + ')' : '')));
      r.appendChild(el('td', { 'class': 'num' }, fmt(t.reward)));
      r.appendChild(el('td', { 'class': 'num' }, quality(t)));
      r.appendChild(el('td', { 'class': 'num' }, fmt(t.latency_ms, 3)));
      r.appendChild(el('td', { 'class': 'num' }, fmt(t.energy_mj, 4)));
      r.appendChild(el('td', { 'class': 'num' + (t.over_power_budget ? ' over-budget' : ''), title: t.over_power_budget ? 'over the power budget' : '' },
        fmt(t.power_w, 3) + (t.over_power_budget ? ' !' : '')));
      r.appendChild(el('td', { 'class': 'num' }, count(t.params)));
      r.appendChild(el('td', { 'class': 'num' }, count(t.macs)));
      r.appendChild(el('td', null, (t.pareto_latency ? 'latency ' : '') + (t.pareto_energy ? 'energy' : '')));
      r.appendChild(el('td', null, t.hash.slice(0, 12)));
      r.addEventListener('click', function () { select(state.primary, t.id); });
      body.appendChild(r);
    });
    highlightRow();
  }

  function highlightRow() {
    document.querySelectorAll('#trial-table tr.selected').forEach(function (r) { r.classList.remove('selected'); });
    if (state.selected === null) return;
    var row = document.querySelector('#trial-table tr[data-trial="' + state.selected + '"]');
    if (row) row.classList.add('selected');
  }

  function renderAll() {
    renderHeader();
    renderFront('chart-front-latency', 'latency_ms', 'pareto_latency');
    renderFront('chart-front-energy', 'energy_mj', 'pareto_energy');
    renderHistory();
    renderLearning();
    renderParallel();
    renderStages();
    renderTable();
    renderSelected();
    $('footer').textContent = state.data.generated_by || '';
  }

  // A link can name the trial to open: #trial=N, or #experiment=NAME&trial=N.
  function fromHash(data) {
    var args = {};
    (location.hash || '').replace(/^#/, '').split('&').forEach(function (kv) { var p = kv.split('='); if (p[0]) args[p[0]] = decodeURIComponent(p[1] || ''); });
    if (args.experiment !== undefined) {
      var i = data.experiments.findIndex(function (x) { return x.name === args.experiment; });
      if (i >= 0) state.primary = i;
    }
    var id = Number(args.trial);
    if (args.trial !== undefined && Number.isInteger(id) && id >= 0 && id < data.experiments[state.primary].trials.length) state.selected = id;
  }

  function showErrors() {
    if (!window.__reportErrors.length) return;
    var box = $('errors');
    box.style.display = 'block';
    box.textContent = window.__reportErrors.join('\n');
  }

  window.NasReport = {
    ready: false,
    /** Draws (or redraws, keeping the selection) a document { experiments: [...] }. */
    render: function (data) {
      var keep = state.data && data.experiments[state.primary] && state.data.experiments[state.primary].name === data.experiments[state.primary].name;
      state.data = data;
      if (!keep) { state.primary = 0; state.selected = null; fromHash(data); }
      renderAll();
      showErrors();
      this.ready = true;
      this.readyMs = performance.now();
    },
    select: select,
    charts: state.charts,
    renders: [],
  };
  $('table-filter').addEventListener('input', renderTable);
  $('table-pareto').addEventListener('change', renderTable);
  window.addEventListener('resize', function () { Object.keys(state.charts).forEach(function (k) { state.charts[k].resize(); }); });
  var inline = document.getElementById('report-data');
  if (inline && inline.textContent.trim().charAt(0) === '{') {
    try { window.NasReport.render(JSON.parse(inline.textContent)); } catch (e) { console.error('report: ' + e.message); showErrors(); }
  }

  // The dashboard's page: load the experiment from the server and reload it whenever its journal grows
  // (server-sent events); at most one request in flight, and one more if something landed meanwhile.
  var live = document.getElementById('live-config');
  if (live && live.textContent.trim().charAt(0) === '{') {
    var name = JSON.parse(live.textContent).experiment;
    var loading = false, pending = false;
    var load = function () {
      if (loading) { pending = true; return; }
      loading = true;
      fetch('/api/experiments/' + encodeURIComponent(name)).then(function (r) {
        if (!r.ok) return r.json().then(function (e) { throw new Error(e.error || r.statusText); });
        return r.json();
      }).then(function (doc) {
        window.NasReport.render(doc);
        window.NasReport.version = doc.version;
        // When each journal version was drawn (bench/README.md's dashboard latency reads this).
        window.NasReport.renders.push({ at: Date.now(), version: doc.version });
        $('live').textContent = 'live · journal event ' + doc.version + ' · ' + new Date().toLocaleTimeString();
      }).catch(function (e) {
        $('live').textContent = 'live · ' + e.message;
      }).then(function () {
        loading = false;
        if (pending) { pending = false; load(); }
      });
    };
    load();
    var events = new EventSource('/api/events');
    events.addEventListener('changed', function (e) { if (JSON.parse(e.data).name === name) load(); });
    events.addEventListener('database', function (e) { $('live').textContent = 'live · ' + JSON.parse(e.data).error; });
    events.onerror = function () { $('live').textContent = 'live · reconnecting…'; };
  }
})();
