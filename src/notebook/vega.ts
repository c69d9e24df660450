/**
 * Charts as Vega-Lite specifications, rendered to SVG with vega and vega-lite (optional packages:
 * `npm install vega vega-lite`), headless: no browser and no canvas. The specifications are the
 * standard format Jupyter front ends draw under the `application/vnd.vegalite.v5+json` MIME type.
 */
import { errors } from '../errors.js';

export const VEGA_LITE_MIME = 'application/vnd.vegalite.v5+json';
export type VegaLiteSpec = Record<string, unknown>;

interface VegaModules {
  vega: { View: new (runtime: unknown, opts: { renderer: string }) => { toSVG(): Promise<string>; finalize(): void }; parse(spec: unknown): unknown };
  compile: (spec: unknown) => { spec: unknown };
}

let loaded: Promise<VegaModules> | null = null;

function load(): Promise<VegaModules> {
  loaded ??= (async () => {
    try {
      const vega = (await import('vega')) as unknown as VegaModules['vega'];
      const { compile } = (await import('vega-lite')) as unknown as { compile: VegaModules['compile'] };
      return { vega, compile };
    } catch (e) {
      loaded = null;
      throw errors.badArgument('charts', `rendering a chart to SVG needs the optional packages vega and vega-lite (npm install vega vega-lite): ${(e as Error).message.split('\n')[0]}`);
    }
  })();
  return loaded;
}

/** The chart as an SVG document. */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const { vega, compile } = await load();
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
