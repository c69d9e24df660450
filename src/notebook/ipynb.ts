import type { Cell } from './cells.js';

/** The parts of a Jupyter notebook (nbformat 4) that a converted example fills in. */
export interface Ipynb {
  nbformat: 4;
  nbformat_minor: number;
  metadata: { kernelspec: { name: string; display_name: string; language: string }; language_info: { name: string } };
  cells: { cell_type: 'code' | 'markdown'; id: string; metadata: Record<string, never>; source: string[]; outputs?: []; execution_count?: null }[];
}

/**
 * A Jupyter notebook for the tslab kernel with the same cells as a percent-format example, so one
 * source serves the terminal runner, the rendered Markdown and Jupyter. Outputs are left empty:
 * Jupyter fills them when the notebook runs.
 */
export function toIpynb(cells: Cell[]): Ipynb {
  // nbformat keeps sources as lists of lines, each but the last ending in a newline.
  const lines = (s: string): string[] => s.split('\n').map((l, i, all) => (i < all.length - 1 ? `${l}\n` : l));
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' }, language_info: { name: 'typescript' } },
    cells: cells.map((c) =>
      c.kind === 'markdown'
        ? { cell_type: 'markdown', id: `cell-${c.index}`, metadata: {}, source: lines(c.source) }
        : { cell_type: 'code', id: `cell-${c.index}`, metadata: {}, source: lines(c.source), outputs: [], execution_count: null },
    ),
  };
}

/** The notebook as a file's text: one space of indentation, as Jupyter writes them, and a final newline. */
export function ipynbText(cells: Cell[]): string {
  return `${JSON.stringify(toIpynb(cells), null, 1)}\n`;
}
