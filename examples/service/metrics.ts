/**
 * Prometheus metrics of the example service, through prom-client: requests and latency per route,
 * batch sizes, queue depth, per-expert load, balance ratio and re-plans per served model, plus the
 * process's own (memory, event-loop lag) from prom-client's default collectors.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ServedModel } from 'flexmoe';

export class ServiceMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'flexmoe_requests_total', help: 'HTTP requests by route and status code', labelNames: ['route', 'status'], registers: [this.registry] });
  readonly latency = new Histogram({
    name: 'flexmoe_request_duration_seconds', help: 'HTTP request latency by route', labelNames: ['route'], registers: [this.registry],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  private readonly batchRows = new Histogram({ name: 'flexmoe_batch_rows', help: 'Rows (sequences or images) per forward pass', labelNames: ['model'], registers: [this.registry], buckets: [1, 2, 4, 8, 16, 32, 64] });
  private readonly replans = new Counter({ name: 'flexmoe_replans_total', help: 'Placement changes carried out while serving', labelNames: ['model'], registers: [this.registry] });
  private readonly crashes = new Counter({ name: 'flexmoe_device_crashes_total', help: 'Forward passes failed by a device crash (the model then rebuilds its devices)', labelNames: ['model'], registers: [this.registry] });
  private readonly models = new Map<string, ServedModel>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'flexmoe_' });
    const models = this.models;
    new Gauge({
      name: 'flexmoe_queue_depth', help: 'Requests waiting for a forward pass', labelNames: ['model'], registers: [this.registry],
      collect() {
        for (const [name, m] of models) this.set({ model: name }, m.queueDepth);
      },
    });
    new Gauge({
      name: 'flexmoe_expert_load', help: 'Token assignments per expert since start', labelNames: ['model', 'layer', 'expert'], registers: [this.registry],
      collect() {
        for (const [name, m] of models) m.stats.expertLoad.forEach((l, layer) => l.forEach((n, expert) => this.set({ model: name, layer, expert }, n)));
      },
    });
    new Gauge({
      name: 'flexmoe_balance_ratio', help: 'Max ÷ mean device expert load of the last forward pass', labelNames: ['model', 'layer'], registers: [this.registry],
      collect() {
        for (const [name, m] of models) m.stats.balanceRatio.forEach((r, layer) => this.set({ model: name, layer }, r));
      },
    });
    new Gauge({
      name: 'flexmoe_shadowed_passes_total', help: 'Forward passes in which hot experts were shadowed on every device (policy fastermoe)', labelNames: ['model'], registers: [this.registry],
      collect() {
        for (const [name, m] of models) this.set({ model: name }, m.stats.shadowedPasses);
      },
    });
    // Where the passes' time goes: what placement can move (the experts) and how unevenly it lies.
    new Gauge({
      name: 'flexmoe_pass_seconds_total', help: 'Time spent in forward passes', labelNames: ['model'], registers: [this.registry],
      collect() {
        for (const [name, m] of models) this.set({ model: name }, m.stats.passMs / 1000);
      },
    });
    new Gauge({
      name: 'flexmoe_expert_seconds_total', help: 'Time each device spent computing experts in forward passes', labelNames: ['model', 'device'], registers: [this.registry],
      collect() {
        for (const [name, m] of models) m.stats.expertMs.forEach((ms, device) => this.set({ model: name, device }, ms / 1000));
      },
    });
    new Gauge({
      name: 'flexmoe_expert_imbalance_seconds_total', help: "Over the passes, the busiest device's expert time above the devices' mean: what a perfect balance would save", labelNames: ['model'], registers: [this.registry],
      collect() {
        for (const [name, m] of models) this.set({ model: name }, m.stats.expertImbalanceMs / 1000);
      },
    });
    new Gauge({
      name: 'flexmoe_overloaded_total', help: 'Requests refused because the queue was full', labelNames: ['model'], registers: [this.registry],
      collect() {
        for (const [name, m] of models) this.set({ model: name }, m.stats.overloaded);
      },
    });
  }

  /** Watches a served model: its passes, re-plans and crashes feed the metrics. */
  watch(name: string, model: ServedModel): void {
    this.models.set(name, model);
    model.stats.passes$.subscribe((p) => this.batchRows.observe({ model: name }, p.rows));
    model.events$.subscribe((e) => {
      if (e.type === 'replan') this.replans.inc({ model: name });
      else if (e.type === 'device-crashed') this.crashes.inc({ model: name });
    });
  }
}
