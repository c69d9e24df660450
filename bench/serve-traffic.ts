/**
 * Request mixes for the serving benchmark. Each "domain" is a kind of prompt a service might get
 * (plain prose, shouting, title case, ledger lines of numbers, dialogue), cut from Moby-Dick. The
 * benchmark measures each domain's routing on the served model and picks the two whose hot experts
 * differ most, so the mix is skewed and its hot set shifts when the traffic switches domain.
 */
import { balanceRatio, deviceLoads, loadModel, mobyDick } from '../src/index.js';

export type Domains = Record<string, string[]>;

export function domains(seq: number, count = 24): Domains {
  const text = mobyDick();
  const windows = Array.from({ length: count }, (_, i) => text.slice(100_000 + i * 7919, 100_000 + i * 7919 + seq).replace(/\s+/g, ' '));
  return {
    prose: windows.map((w) => w.toLowerCase()),
    shout: windows.map((w) => w.toUpperCase()),
    title: windows.map((w) => w.replace(/\b\w/g, (c) => c.toUpperCase())),
    ledger: windows.map((_, i) => `${1800 + i}. ${i * 37}, ${i * 13}; ${(i * 7919) % 1000} and ${i}`.slice(0, seq)),
    dialogue: windows.map((w) => `"${w.slice(0, seq / 2 - 2)}!" -- "${w.slice(seq / 2 - 2, seq - 4)}?"`),
  };
}

export interface DomainRouting {
  name: string;
  /** Per layer, the share of assignments per expert. */
  share: number[][];
  /** Mean over layers of max ÷ mean device load under the static placement (expert e on device e mod D). */
  staticBalance: number;
}

/** Routes every prompt of every domain once through the model (in this thread) and summarises. */
export async function measureDomains(checkpoint: string, all: Domains, devices: number): Promise<DomainRouting[]> {
  const model = await loadModel(checkpoint);
  try {
    const out: DomainRouting[] = [];
    for (const [name, prompts] of Object.entries(all)) {
      const usable = prompts.filter((p) => [...p].every((c) => model.vocab!.has(c)));
      model.stats.expertLoad.forEach((l) => l.fill(0));
      await Promise.all(usable.map((p) => model.generate(p, { maxTokens: 1 })));
      const loads = model.stats.expertLoad;
      const share = loads.map((l) => {
        const total = l.reduce((a, b) => a + b, 0);
        return l.map((n) => n / total);
      });
      const roundRobin = (E: number) => ({ devices, replicas: () => Array.from({ length: E }, (_, e) => [e % devices]) });
      const staticBalance = loads.reduce((s, l) => s + balanceRatio(deviceLoads(l, roundRobin(l.length))), 0) / loads.length;
      out.push({ name, share, staticBalance });
    }
    return out;
  } finally {
    await model.close();
  }
}

/**
 * The most imbalanced domain first, then the domain that best combines a different hot set with
 * imbalance of its own (distance of expert shares × how far its static balance is above 1): the
 * mix stays skewed after the shift, with other experts hot.
 */
export function pickShift(routing: DomainRouting[]): [DomainRouting, DomainRouting] {
  const first = [...routing].sort((a, b) => b.staticBalance - a.staticBalance)[0]!;
  const distance = (a: DomainRouting, b: DomainRouting) => a.share.reduce((s, l, i) => s + l.reduce((t, v, e) => t + Math.abs(v - b.share[i]![e]!), 0), 0);
  const score = (r: DomainRouting) => distance(r, first) * (r.staticBalance - 1);
  const second = routing.filter((r) => r !== first).sort((a, b) => score(b) - score(a))[0]!;
  return [first, second];
}
