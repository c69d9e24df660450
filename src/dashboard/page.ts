/** The dashboard page: one self-contained HTML document (no CDN), fed by server-sent events from /events. */
export const dashboardPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>flexmoe dashboard</title>
<style>
 body { font: 14px system-ui, sans-serif; margin: 20px; color: #222; }
 .row { display: flex; gap: 24px; flex-wrap: wrap; }
 .card { border: 1px solid #ddd; border-radius: 6px; padding: 10px 14px; min-width: 140px; }
 .card b { display: block; font-size: 22px; }
 table.placement td { width: 28px; height: 22px; text-align: center; border: 1px solid #ccc; }
 td.on { background: #4c78a8; color: white; }
 td.shadow { background: #f2cf5b; }
 #log { font-family: monospace; font-size: 12px; max-height: 220px; overflow: auto; background: #f7f7f7; padding: 8px; }
</style></head>
<body>
<h1>flexmoe</h1>
<div class="row">
 <div class="card">step<b id="step">–</b></div>
 <div class="card">loss<b id="loss">–</b></div>
 <div class="card">tokens/s<b id="tps">–</b></div>
 <div class="card">balance ratio<b id="balance">–</b></div>
 <div class="card">placement version<b id="version">0</b></div>
 <div class="card">shadowed this step (layer 0)<b id="shadows">–</b></div>
</div>
<h3>loss <span style="color:#1f77b4">━</span> and balance ratio <span style="color:#d62728">━</span> (each scaled to its own range)</h3>
<svg id="chart" width="640" height="160" viewBox="0 0 640 160"><polyline id="lossLine" fill="none" stroke="#1f77b4" stroke-width="1.5"/><polyline id="brLine" fill="none" stroke="#d62728" stroke-width="1.5"/></svg>
<h3>placement (devices × experts, layer 0; ◌ a shadow copy for this step)</h3>
<table class="placement" id="placement"></table>
<h3>events</h3>
<div id="log"></div>
<script>
 const losses = [], ratios = [];
 const $ = (id) => document.getElementById(id);
 function line(el, values) {
   if (!values.length) return;
   const hi = Math.max(...values), lo = Math.min(...values), span = hi - lo || 1;
   el.setAttribute('points', values.map((v, i) => (i * 640 / Math.max(1, values.length - 1)).toFixed(1) + ',' + (150 - 140 * (v - lo) / span).toFixed(1)).join(' '));
 }
 function placement(replicas) {
   const devices = Math.max(1, ...replicas.flat()) + 1;
   let html = '<tr><td></td>' + replicas.map((_, e) => '<td>e' + e + '</td>').join('') + '</tr>';
   for (let d = 0; d < devices; d++) html += '<tr><td>dev' + d + '</td>' + replicas.map((r, e) => '<td data-cell="d' + d + 'e' + e + '" class="' + (r.includes(d) ? 'on' : '') + '">' + (r.includes(d) ? '●' : '') + '</td>').join('') + '</tr>';
   $('placement').innerHTML = html;
 }
 function shadows(experts) {
   document.querySelectorAll('td.shadow').forEach((td) => { td.className = ''; td.textContent = ''; });
   for (const td of document.querySelectorAll('td[data-cell]')) {
     const [, e] = td.dataset.cell.slice(1).split('e').map(Number);
     if (experts.includes(e) && !td.classList.contains('on')) { td.className = 'shadow'; td.textContent = '◌'; }
   }
   $('shadows').textContent = experts.length ? experts.map((e) => 'e' + e).join(' ') : '–';
 }
 function log(text) { const p = document.createElement('div'); p.textContent = text; $('log').prepend(p); }
 const source = new EventSource('/events');
 source.addEventListener('state', (m) => { const s = JSON.parse(m.data); if (s.replicas) placement(s.replicas); });
 source.addEventListener('batch-end', (m) => {
   const e = JSON.parse(m.data);
   $('step').textContent = e.step; $('loss').textContent = e.loss.toFixed(3); $('tps').textContent = Math.round(e.tokensPerSec);
   $('balance').textContent = e.balanceRatio.toFixed(2); $('version').textContent = e.placementVersion;
   losses.push(e.loss); ratios.push(e.balanceRatio); line($('lossLine'), losses); line($('brLine'), ratios);
   if (e.shadows) shadows(e.shadows[0] || []);
 });
 source.addEventListener('rebalance', (m) => {
   const e = JSON.parse(m.data);
   if (e.layer === 0) placement(e.replicas);
   log('step ' + e.step + ', layer ' + e.layer + ': ' + e.ops.map((o) => o.op === 'migrate' ? 'migrate e' + o.expert + ' ' + o.from + '→' + o.to : o.op + ' e' + o.expert + '@dev' + o.device).join(', ') + ' (v' + e.version + ')');
 });
 source.addEventListener('runtime', (m) => {
   const e = JSON.parse(m.data).event, at = (r) => r.id + '@dev' + r.device;
   if (e.type === 'actor-cloned') log('actor ' + at(e.from) + ' cloned to ' + at(e.ref));
   else if (e.type === 'actor-migrated') log('actor ' + at(e.from) + ' migrated to device ' + e.ref.device);
   else if (e.type === 'actor-stopped') log('actor ' + at(e.ref) + ' stopped');
   else if (e.type === 'device-down' || e.type === 'device-failed') log(e.type + ' ' + e.device + ': ' + e.reason);
 });
 source.addEventListener('train-begin', (m) => { const e = JSON.parse(m.data); log('training on ' + e.devices + ' device(s), policy ' + e.policy); });
 source.addEventListener('train-end', (m) => { const e = JSON.parse(m.data); log('done: loss ' + e.firstLoss.toFixed(3) + ' → ' + e.lastLoss.toFixed(3)); });
</script>
</body></html>`;
