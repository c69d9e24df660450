import type { StepStats } from './lm.js';

/**
 * Progress output: a redrawn bar on a terminal, otherwise one plain line every `every` steps
 * (logs and CI stay readable).
 */
export class Progress {
  private readonly tty: boolean;
  private readonly start = performance.now();

  constructor(
    private readonly total: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly every = Math.max(1, Math.floor(total / 20)),
  ) {
    this.tty = Boolean(out.isTTY);
  }

  update(s: Pick<StepStats, 'step' | 'loss' | 'evalLoss'>, tokensPerSec: number): void {
    const done = s.step + 1;
    const text = `step ${String(done).padStart(String(this.total).length)}/${this.total}  loss ${s.loss.toFixed(3)}${s.evalLoss !== undefined ? `  eval ${s.evalLoss.toFixed(3)}` : ''}  ${Math.round(tokensPerSec)} tok/s`;
    if (this.tty) {
      const width = 24, filled = Math.round((done / this.total) * width);
      const eta = ((performance.now() - this.start) / done) * (this.total - done) / 1000;
      this.out.write(`\r[${'='.repeat(filled)}${' '.repeat(width - filled)}] ${text}  eta ${eta.toFixed(0)}s \x1b[K`);
      if (done === this.total) this.out.write('\n');
    } else if (done % this.every === 0 || done === this.total || done === 1) {
      this.out.write(`${text}\n`);
    }
  }
}
