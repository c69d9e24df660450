import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** File URL of tsx's ESM register API, read from its package exports. */
function tsxEsmApi(): string {
  const pkgPath = createRequire(import.meta.url).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(join(dirname(pkgPath), pkg.exports['./esm/api']!.import.default)).href;
}

/**
 * Starts a worker thread on a module. A `.ts` module's worker is started from a tiny script that
 * registers tsx first: a worker's entry module is loaded before loader hooks inherited from the
 * parent are active in the new thread.
 */
export function startThread(module: URL, options: WorkerOptions = {}): Worker {
  module = new URL(module.href);
  module.search = '';
  if (!module.pathname.endsWith('.ts')) return new Worker(module, options);
  const code = `import(${JSON.stringify(tsxEsmApi())}).then((m) => { m.register(); return import(${JSON.stringify(module.href)}); });`;
  return new Worker(code, { ...options, eval: true });
}

/**
 * A sibling module of `base` (an import.meta.url) with the same extension as `base`: `.ts` when
 * running from sources, `.js` when built. Query strings some loaders append are dropped.
 */
export function siblingModule(relativePath: string, base: string): URL {
  const url = new URL(base);
  const ext = url.pathname.endsWith('.ts') ? '.ts' : '.js';
  url.search = '';
  return new URL(`${relativePath}${ext}`, url);
}

/** Module specifiers (paths, file URLs or URL objects) as the file URL strings `import()` and devices take. */
export function moduleUrls(modules: readonly (string | URL)[]): string[] {
  return modules.map((m) => (m instanceof URL ? m.href : m.startsWith('file:') ? m : pathToFileURL(resolve(m)).href));
}
