// Regenerates docs/dashboard.png: a real flexmoe-react run (GPT-MoE, 2 devices, skewed router) with
// its live dashboard open in headless Chromium (Debian's `chromium` and playwright-core, as the
// dashboard's end-to-end test uses), captured after the last step.
// Usage: npx tsx scripts/dashboard-screenshot.ts [--steps N] [--out docs/dashboard.png]
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { CharCorpus, mobyDick } from '../src/data/corpus.js';
import type { CharTransformerConfig } from '../src/models/char-transformer.js';
import { Trainer } from '../src/train/trainer.js';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '60' }, out: { type: 'string', default: 'docs/dashboard.png' } } });
const executablePath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!executablePath) throw new Error('dashboard-screenshot: needs Chromium at /usr/bin/chromium');
const corpus = new CharCorpus(mobyDick());
const config: CharTransformerConfig = { vocab: corpus.vocab.size, seq: 32, dModel: 64, heads: 4, dFF: 512, layers: 2, seed: 1, moe: { experts: 4, topk: 1, routerSkew: 1.5, auxCoef: 0.01 } };
const trainer = new Trainer({ config, devices: 2, batch: 16, lr: 8e-3, policy: 'flexmoe-react', slots: 4 });
const dash = await trainer.serveDashboard();
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'] });
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 820 } });
  await page.goto(dash.url);
  await page.waitForSelector('#log');
  await trainer.fit({ steps: Number(values.steps) });
  // The page has the last events once the step counter shows the last step.
  await page.waitForFunction((n) => document.getElementById('step')?.textContent === String(n - 1), Number(values.steps));
  await page.screenshot({ path: values.out!, fullPage: true });
  process.stderr.write(`dashboard-screenshot: wrote ${values.out}\n`);
} finally {
  await browser.close();
  await dash.close();
}
