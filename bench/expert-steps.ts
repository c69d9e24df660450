// What the expert-step benchmarks share: experts of one size on one backend, taken in turn (as a
// device computes its experts' buffers, each one's weights cold from the others'), each step's
// scratch from an arena as in training, and the CPU's model name for the JSON line.
import { execSync } from 'node:child_process';
import { Tape } from '../src/autograd/tape.js';
import type { Backend } from '../src/kernels/backend.js';
import { ExpertRunner } from '../src/moe/expert-runner.js';
import { FFNExpert } from '../src/moe/experts.js';
import { Rng } from '../src/nn/random.js';
import { Arena } from '../src/tensor/arena.js';
import { Tensor, type F32 } from '../src/tensor/tensor.js';

/** `lscpu`'s model name ('' where it cannot be read). */
export function cpuModel(): string {
  try {
    return execSync("lscpu | sed -n 's/^Model name: *//p'").toString().trim();
  } catch {
    return '';
  }
}

export class ExpertSteps {
  readonly experts: FFNExpert[];
  private readonly runners: ExpertRunner[];
  private readonly arena = new Arena();
  private turn = 0;
  private pass = 0;

  constructor(private readonly be: Backend, readonly dModel: number, dFF: number, count = 8) {
    this.experts = Array.from({ length: count }, (_, i) => new FFNExpert(be, { name: `expert${i}`, dModel, dFF, rng: new Rng(i + 1) }));
    this.runners = this.experts.map((e) => new ExpertRunner(be, e));
  }

  /** Rows of fixed pseudo-random values. */
  input(rows: number): F32 {
    const x = Tensor.zeros([rows, this.dModel]) as F32;
    for (let i = 0; i < x.size; i++) x.data[i] = Math.sin(i * 12.9898) * 0.5;
    return x;
  }

  /** The next expert in turn, in the arena: `f` gets it and its runner. */
  next<T>(f: (expert: FFNExpert, runner: ExpertRunner) => Promise<T>): Promise<T> {
    const i = this.turn++ % this.experts.length;
    return this.arena.use(() => f(this.experts[i]!, this.runners[i]!));
  }

  /** One training step of the next expert on `x` as a device runs it: forward on its runner's tape, then backward (output as its own gradient). */
  step(x: F32): Promise<void> {
    return this.next(async (_, runner) => {
      const p = this.pass++;
      let y: F32 | undefined;
      await new Tape(this.be).run(async () => void (y = await runner.forward(x, p)));
      await runner.backward(y!, p);
    });
  }
}
