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
 svg text { font-size: 10px; fill: #555; }
 svg .grid { stroke: #e4e4e4; }
 svg .axis { stroke: #999; }
 .bar { display: flex; align-items: center; gap: 8px; margin: 3px 0; font-family: monospace; font-size: 12px; }
 .bar span.fill { display: inline-block; height: 12px; background: #4c78a8; }
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
<div class="row">
 <div><h3>training loss (nats per token) by step</h3><svg id="lossChart" width="420" height="180" viewBox="0 0 420 180"></svg></div>
 <div><h3>expert load, busiest device ÷ mean, by step</h3><svg id="balanceChart" width="420" height="180" viewBox="0 0 420 180"></svg></div>
</div>
<h3>expert compute per device, last step (ms, forward and backward)</h3>
<div id="deviceTime"><i>waiting for the first step</i></div>
<h3>placement (devices × experts, layer 0; ◌ a shadow copy for this step)</h3>
<table class="placement" id="placement"></table>
<h3>events</h3>
<div id="log"></div>
<script>
 const steps = [], losses = [], ratios = [];
 const $ = (id) => document.getElementById(id);
 const fmt = (v) => Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
 // A line chart with its axes: y ticks and gridlines at the range's ends and middle, x ticks at the first, middle and last step.
 function chart(svg, xs, ys, color) {
   const W = 420, H = 180, L = 44, R = 8, T = 8, B = 24, w = W - L - R, h = H - T - B;
   if (!ys.length) return;
   let lo = Math.min(...ys), hi = Math.max(...ys);
   if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
   const x0 = xs[0], x1 = xs[xs.length - 1], xspan = x1 - x0 || 1;
   const px = (x) => L + (w * (x - x0)) / xspan, py = (y) => T + h - (h * (y - lo)) / (hi - lo);
   let out = '';
   for (const y of [lo, (lo + hi) / 2, hi]) out += '<line class="grid" x1="' + L + '" x2="' + (W - R) + '" y1="' + py(y).toFixed(1) + '" y2="' + py(y).toFixed(1) + '"/><text x="' + (L - 4) + '" y="' + (py(y) + 3).toFixed(1) + '" text-anchor="end">' + fmt(y) + '</text>';
   for (const x of [...new Set([x0, Math.round((x0 + x1) / 2), x1])]) out += '<text x="' + px(x).toFixed(1) + '" y="' + (H - 8) + '" text-anchor="middle">' + x + '</text>';
   out += '<line class="axis" x1="' + L + '" x2="' + L + '" y1="' + T + '" y2="' + (T + h) + '"/><line class="axis" x1="' + L + '" x2="' + (W - R) + '" y1="' + (T + h) + '" y2="' + (T + h) + '"/>';
   out += '<polyline fill="none" stroke="' + color + '" stroke-width="1.5" points="' + xs.map((x, i) => px(x).toFixed(1) + ',' + py(ys[i]).toFixed(1)).join(' ') + '"/>';
   svg.innerHTML = out;
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
 function deviceTime(ms) {
   const top = Math.max(1e-9, ...ms);
   $('deviceTime').innerHTML = ms.map((v, d) => '<div class="bar" data-device="' + d + '">dev' + d + ' <span class="fill" style="width:' + (240 * v / top).toFixed(0) + 'px"></span> ' + v.toFixed(1) + ' ms</div>').join('');
 }
 function log(text) { const p = document.createElement('div'); p.textContent = text; $('log').prepend(p); }
 const source = new EventSource('/events');
 source.addEventListener('state', (m) => { const s = JSON.parse(m.data); if (s.replicas) placement(s.replicas); });
 source.addEventListener('batch-end', (m) => {
   const e = JSON.parse(m.data);
   $('step').textContent = e.step; $('loss').textContent = e.loss.toFixed(3); $('tps').textContent = Math.round(e.tokensPerSec);
   $('balance').textContent = e.balanceRatio.toFixed(2); $('version').textContent = e.placementVersion;
   steps.push(e.step); losses.push(e.loss); ratios.push(e.balanceRatio);
   chart($('lossChart'), steps, losses, '#1f77b4'); chart($('balanceChart'), steps, ratios, '#d62728');
   if (e.deviceExpertMs) deviceTime(e.deviceExpertMs);
   if (e.shadows) shadows(e.shadows[0] || []);
 });
 source.addEventListener('rebalance', (m) => {
   const e = JSON.parse(m.data);
   if (e.layer === 0) placement(e.replicas);
   log('step ' + e.step + ', layer ' + e.layer + ': ' + e.ops.map((o) => o.op === 'migrate' ? 'migrate e' + o.expert + ' ' + o.from + '→' + o.to : o.op + ' e' + o.expert + '@dev' + o.device).join(', ') + ' (v' + e.version + ')');
 });
 source.addEventListener('runtime', (m) => {
   const e = JSON.parse(m.data).event, at = (r) => r.id + '@dev' + r.device;
   if (e.type === 'actor-spawned') log('actor ' + at(e.ref) + ' spawned');
   else if (e.type === 'actor-cloned') log('actor ' + at(e.from) + ' cloned to ' + at(e.ref));
   else if (e.type === 'actor-migrated') log('actor ' + at(e.from) + ' migrated to device ' + e.ref.device);
   else if (e.type === 'actor-stopped') log('actor ' + at(e.ref) + ' stopped');
   else if (e.type === 'device-down' || e.type === 'device-failed') log(e.type + ' ' + e.device + ': ' + e.reason);
 });
 source.addEventListener('train-begin', (m) => {
   const e = JSON.parse(m.data);
   if (e.replicas) placement(e.replicas);
   log('training on ' + e.devices + ' device(s), ' + e.steps + ' steps, policy ' + e.policy);
 });
 source.addEventListener('train-end', (m) => { const e = JSON.parse(m.data); log('done: loss ' + e.firstLoss.toFixed(3) + ' → ' + e.lastLoss.toFixed(3) + ', ' + Math.round(e.tokensPerSec) + ' tokens/s'); });
</script>
</body></html>`;
