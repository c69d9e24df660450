// %% [markdown]
// # Actors, devices and channels
//
// A device is a worker thread; actors live on devices; tensors move between devices over
// SharedArrayBuffer rings, never through the main thread.
//
// The modules the devices import are named by paths relative to the notebook's folder (`'load-book.ts'`):
// Jupyter and `flexmoe notebook` both run a notebook there.

// %%
import { ActorSystem, display, expertActorModule, table } from 'flexmoe';
import type { RuntimeEvent } from 'flexmoe';
import { LoadBook } from './load-book.js';
import { Reducer } from './reducer.js';

const system = await ActorSystem.start({ devices: 2, modules: ['load-book.ts', 'reducer.ts', expertActorModule] });
const events: RuntimeEvent[] = [];
const watching = system.events$.subscribe((e) => events.push(e));

// %% [markdown]
// Spawn an actor, send it messages, move it to the other device while it keeps its state.

// %%
const book = await system.spawn(LoadBook, {}, { device: 0 });
for (let i = 0; i < 5; i++) system.tell(book, { counts: [i, 10 - i, 1] });
const moved = await system.migrate(book, 1);
console.log(`hottest expert: ${await system.ask(book, { hottest: true })}; the actor now lives on device ${moved.device} (incarnation ${moved.incarnation})`);

// %% [markdown]
// A collective: every device adds up its vector with the others' (an all-reduce over the rings).

// %%
const reducers = await Promise.all([0, 1].map((d) => system.spawn(Reducer, {}, { device: d })));
const sums = await Promise.all(reducers.map((r, d) => system.ask<{ device: number; sum: number[] }>(r, { values: [d + 1, 10 * (d + 1)] })));
display(table(['device', 'all-reduced sum'], sums.map((s) => [s.device, s.sum.join(', ')])));

// %% [markdown]
// The unit FlexMoE moves: an expert actor owns one expert's weights and Adam moments. Cloning it
// onto the other device ships that state over the channel between the two devices; a replica
// starts exactly where its source is.

// %%
const expert = await system.spawn('Expert', { name: 'demo.expert0', dModel: 16, dFF: 32, seed: 7, optimizer: { lr: 1e-3 }, backend: 'reference' }, { device: 0 });
const copy = await system.clone(expert, 1);
const [a, b] = await Promise.all([expert, copy].map((r) => system.ask<{ step: number; tensors: Float32Array[] }>(r, { type: 'state' })));
const same = a.tensors.every((t, i) => t.every((v, j) => v === b.tensors[i]![j]));
console.log(`replica on device ${copy.device}: ${b.tensors.length} tensors (value, m, v of 4 parameters), identical to the source: ${same}`);

// %% [markdown]
// What the runtime reported along the way.

// %%
console.log(events.map((e) => e.type).join(' · '));
watching.unsubscribe();
await system.stop();
