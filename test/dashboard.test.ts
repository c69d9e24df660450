import assert from 'node:assert/strict';
import { Subject } from 'rxjs';
import { serveDashboard } from '../src/dashboard/server.js';
import type { TrainEvent } from '../src/train/trainer.js';

describe('live dashboard', function () {
  this.timeout(20_000);

  it('serves the page and streams batches and placement changes as server-sent events', async () => {
    const events = new Subject<TrainEvent>();
    const dash = await serveDashboard(events);
    const ctrl = new AbortController();
    try {
      assert.match(dash.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const page = await (await fetch(dash.url)).text();
      assert.match(page, /<title>flexmoe dashboard<\/title>/);
      assert.match(page, /new EventSource\('\/events'\)/);
      const res = await fetch(`${dash.url}events`, { signal: ctrl.signal });
      assert.equal(res.headers.get('content-type'), 'text/event-stream');
      const reader = res.body!.getReader();
      let text = '';
      const until = async (pattern: RegExp) => {
        while (!pattern.test(text)) text += new TextDecoder().decode((await reader.read()).value);
      };
      await until(/event: state/);
      events.next({ type: 'rebalance', step: 3, layer: 0, ops: [{ op: 'expand', expert: 0, device: 1 }], version: 1, replicas: [[0, 1], [1]] });
      await until(/event: rebalance\ndata: .*"replicas":\[\[0,1\],\[1\]\]/);
      events.next({ type: 'batch-end', step: 4, loss: 2.5, balanceRatio: 1.1, placementVersion: 1 } as never);
      await until(/event: batch-end\ndata: .*"loss":2\.5/);
    } finally {
      ctrl.abort();
      await dash.close();
    }
  });

  it('a port in use is an error naming it', async () => {
    const a = await serveDashboard(new Subject<TrainEvent>());
    const port = Number(new URL(a.url).port);
    try {
      await assert.rejects(serveDashboard(new Subject<TrainEvent>(), { port }), new RegExp(`port ${port} on 127.0.0.1 is already in use`));
    } finally {
      await a.close();
    }
  });
});

/** Headless Chromium (Debian's, driven by playwright-core), or null where it is not installed. */
async function launchChromium() {
  const { existsSync } = await import('node:fs');
  const executablePath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
  if (!executablePath) return null;
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'] });
}

describe('live dashboard in headless Chromium (end to end)', function () {
  this.timeout(60_000);
  it('the page shows a placement change after the scheduler acts', async function () {
    const browser = await launchChromium();
    if (!browser) this.skip();
    const events = new Subject<TrainEvent>();
    const dash = await serveDashboard(events);
    try {
      const page = await browser.newPage();
      await page.goto(dash.url);
      await page.waitForSelector('#log');
      events.next({ type: 'train-begin', devices: 2, steps: 10, policy: 'flexmoe' });
      events.next({ type: 'rebalance', step: 5, layer: 0, ops: [{ op: 'expand', expert: 0, device: 1 }], version: 1, replicas: [[0, 1], [1], [0], [1]] });
      await page.waitForSelector('td[data-cell="d1e0"].on', { timeout: 10_000 });
      assert.equal(await page.getAttribute('td[data-cell="d0e1"]', 'class'), '', 'expert 1 is not on device 0');
      assert.match((await page.textContent('#log'))!, /step 5, layer 0: expand e0@dev1 \(v1\)/);
      // A step that shadowed expert 1 (FasterMoE, flexmoe-react): a copy on device 0, which holds none.
      const step = { step: 6, loss: 3, auxLoss: 0, tokensPerSec: 1000, balanceRatio: 1.1, placementVersion: 1, shadows: [[1], []] };
      events.next({ type: 'batch-end', ...step } as unknown as TrainEvent);
      await page.waitForSelector('td[data-cell="d0e1"].shadow', { timeout: 10_000 });
      assert.equal(await page.getAttribute('td[data-cell="d1e1"]', 'class'), 'on', 'device 1 holds expert 1 itself');
      assert.equal(await page.textContent('#shadows'), 'e1');
    } finally {
      await browser.close();
      await dash.close();
    }
  });

  it('a viewer who opens the page late sees the run from its first step: placement, charts with axes, device time, log', async function () {
    const browser = await launchChromium();
    if (!browser) this.skip();
    const events = new Subject<TrainEvent>();
    const dash = await serveDashboard(events);
    // Twelve steps happen before anyone looks.
    events.next({ type: 'train-begin', devices: 2, steps: 20, policy: 'flexmoe', replicas: [[0], [1], [0], [1]] });
    for (let step = 0; step < 12; step++) {
      events.next({ type: 'batch-end', step, loss: 4 - step * 0.1, auxLoss: 0, tokensPerSec: 1000, balanceRatio: 1.5 - step * 0.02, placementVersion: 0, shadows: [[], []], deviceExpertMs: [3 + step * 0.1, 2] } as unknown as TrainEvent);
    }
    try {
      const page = await browser.newPage();
      await page.goto(dash.url);
      await page.waitForFunction("document.getElementById('step').textContent === '11'", undefined, { timeout: 10_000 });
      // The placement from the start, before any re-plan.
      assert.equal(await page.getAttribute('td[data-cell="d0e0"]', 'class'), 'on');
      assert.equal(await page.getAttribute('td[data-cell="d1e0"]', 'class'), '');
      // Both charts hold all twelve steps, with labelled axes: the loss range 2.9–4 and steps 0 to 11.
      const points = await page.getAttribute('#lossChart polyline', 'points');
      assert.equal(points!.trim().split(' ').length, 12);
      const labels = await page.$$eval('#lossChart text', (ts) => ts.map((t) => t.textContent));
      for (const want of ['4.00', '2.90', '0', '11']) assert.ok(labels.includes(want), `loss axis labels ${labels.join(' ')}`);
      assert.equal(await page.$$eval('#balanceChart polyline', (ps) => ps.length), 1);
      assert.match((await page.textContent('#deviceTime'))!, /dev0 +4\.1 ms.*dev1 +2\.0 ms/s);
      assert.match((await page.textContent('#log'))!, /training on 2 device\(s\), 20 steps, policy flexmoe/);
      // And it goes on live.
      events.next({ type: 'batch-end', step: 12, loss: 2.8, auxLoss: 0, tokensPerSec: 1000, balanceRatio: 1.2, placementVersion: 0, shadows: [[], []], deviceExpertMs: [3, 2] } as unknown as TrainEvent);
      await page.waitForFunction("document.getElementById('step').textContent === '12'", undefined, { timeout: 10_000 });
    } finally {
      await browser.close();
      await dash.close();
    }
  });
});
