/**
 * The example service as a library: an HTTP server (node:http, no framework) around served flexmoe
 * models. POST /v1/generate, POST /v1/classify, GET /healthz, GET /metrics (Prometheus). Input is
 * validated before it reaches a model, and every refusal says what is wrong.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FlexMoEError, type ServedModel } from 'flexmoe';
import { ServiceMetrics } from './metrics.js';

export interface ServiceOptions {
  /** A language model for /v1/generate and/or a vision model for /v1/classify. */
  generate?: ServedModel;
  classify?: ServedModel;
  host?: string;
  /** 0: any free port. */
  port?: number;
  /** Request bodies larger than this are refused (413). */
  maxBodyBytes?: number;
  maxPromptChars?: number;
  maxTokens?: number;
}

export interface Service {
  url: string;
  server: Server;
  metrics: ServiceMetrics;
  /** Stops taking requests, finishes those in flight, closes the models. */
  close(): Promise<void>;
}

/** A refusal: an HTTP status and what the client did wrong (or why the service cannot answer now). */
class Refusal extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

export async function startService(opts: ServiceOptions): Promise<Service> {
  const o = { host: '127.0.0.1', port: 0, maxBodyBytes: 1 << 20, maxPromptChars: 2048, maxTokens: 256, ...opts };
  const metrics = new ServiceMetrics();
  if (o.generate) metrics.watch('generate', o.generate);
  if (o.classify) metrics.watch('classify', o.classify);
  let closing = false;

  // A handler answers with a body, or with `streamed` once it has written a streamed answer itself.
  type Answer = { status?: number; body: unknown; type?: string } | { streamed: true };
  const routes: Record<string, { method: string; handle: (req: IncomingMessage, res: ServerResponse) => Promise<Answer> }> = {
    '/v1/generate': {
      method: 'POST',
      handle: async (req, res) => {
        const model = need(o.generate, 'no language model is loaded (start the service with --generate FILE)');
        const body = await readJson(req, o.maxBodyBytes);
        const prompt = body.prompt;
        // JSON types and this service's limits here; the model names an empty prompt or a character outside its vocabulary.
        if (typeof prompt !== 'string') throw new Refusal(400, '"prompt" must be a string');
        if (prompt.length > o.maxPromptChars) throw new Refusal(400, `"prompt" has ${prompt.length} characters (limit ${o.maxPromptChars})`);
        const maxTokens = optionalInt(body, 'maxTokens', 1, o.maxTokens) ?? 32;
        const seed = optionalInt(body, 'seed', 0, 2 ** 31 - 1);
        const temperature = body.temperature ?? 0.8;
        if (typeof temperature !== 'number' || !(temperature >= 0 && temperature <= 10)) throw new Refusal(400, '"temperature" must be a number in [0, 10]');
        const stream = body.stream ?? false;
        if (typeof stream !== 'boolean') throw new Refusal(400, '"stream" must be true or false');
        const t0 = performance.now();
        const ms = () => Math.round((performance.now() - t0) * 100) / 100;
        // A client that goes away stops its generation (its batch slot frees at the next pass).
        const gone = new AbortController();
        res.once('close', () => gone.abort());
        if (!stream) return { body: { text: await model.generate(prompt, { maxTokens, temperature, seed, signal: gone.signal }), ms: ms() } };
        // Server-sent events: one `data` event per character, then `done` with the whole text.
        let text = '';
        for await (const token of model.generateStream(prompt, { maxTokens, temperature, seed, signal: gone.signal })) {
          if (!res.headersSent) res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
          text += token;
          res.write(`data: ${JSON.stringify({ token })}\n\n`);
        }
        res.end(`event: done\ndata: ${JSON.stringify({ text, ms: ms() })}\n\n`);
        return { streamed: true };
      },
    },
    '/v1/classify': {
      method: 'POST',
      handle: async (req) => {
        const model = need(o.classify, 'no vision model is loaded (start the service with --classify FILE)');
        const body = await readJson(req, o.maxBodyBytes);
        // The model checks the images (count, 784 pixels each, finite numbers) and names what is wrong.
        const predictions = await model.classify(body.images as number[][]);
        return { body: { predictions } };
      },
    },
    '/healthz': {
      method: 'GET',
      handle: async () => {
        const models = Object.fromEntries(Object.entries({ generate: o.generate, classify: o.classify }).filter(([, m]) => m).map(([k, m]) => [k, { devices: m!.engine.devices, healthy: m!.engine.healthy, state: m!.engine.state, queue: m!.queueDepth }]));
        const ok = !closing && Object.values(models).every((m) => m.healthy);
        // `failed`: a model that will not come back (restart the service); `recovering`: rebuilding.
        const status = closing ? 'closing' : ok ? 'ok' : Object.values(models).some((m) => m.state === 'failed') ? 'failed' : 'recovering';
        return { status: ok ? 200 : 503, body: { status, models } };
      },
    },
    '/metrics': {
      method: 'GET',
      handle: async () => ({ body: await metrics.registry.metrics(), type: metrics.registry.contentType }),
    },
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const route = routes[path];
    const label = route ? path : 'other';
    const t0 = performance.now();
    const reply = (status: number, body: unknown, type = 'application/json', headers: Record<string, string> = {}) => {
      metrics.requests.inc({ route: label, status });
      metrics.latency.observe({ route: label }, (performance.now() - t0) / 1000);
      send(res, status, body, type, headers);
    };
    if (!route) return reply(404, { error: `no route ${path}; routes: ${Object.keys(routes).join(', ')}` });
    if (req.method !== route.method) return reply(405, { error: `${path} takes ${route.method}` }, undefined, { allow: route.method });
    if (closing && route.method === 'POST') return reply(503, { error: 'the service is shutting down' }, undefined, { connection: 'close' });
    route.handle(req, res).then(
      (r) => {
        if (!('streamed' in r)) return reply(r.status ?? 200, r.body, r.type);
        metrics.requests.inc({ route: label, status: 200 });
        metrics.latency.observe({ route: label }, (performance.now() - t0) / 1000);
      },
      (e: Error) => {
        // A stream that failed after it began can only end; its status is sent already.
        if (res.headersSent) return void res.end(`event: error\ndata: ${JSON.stringify({ error: e.message })}\n\n`);
        if (e instanceof Refusal) return reply(e.status, { error: e.message }, undefined, e.headers);
        const code = e instanceof FlexMoEError ? e.code : '';
        if (code === 'E_OVERLOADED') return reply(503, { error: e.message, overloaded: true }, undefined, { 'retry-after': '1' });
        if (code === 'E_SERVING' || code === 'E_DEVICE' || code === 'E_CLOSED') return reply(503, { error: e.message });
        if (code === 'E_ARG' || code === 'E_RANGE') return reply(400, { error: e.message });
        reply(500, { error: e.message });
      },
    );
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${o.host}:${port}`,
    server,
    metrics,
    async close() {
      closing = true;
      // Stop accepting connections; idle keep-alive ones close now, busy ones after their answer.
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      await Promise.all([o.generate?.close(), o.classify?.close()]);
      server.closeIdleConnections();
      await closed;
    },
  };
}

function need(model: ServedModel | undefined, why: string): ServedModel {
  if (!model) throw new Refusal(404, why);
  return model;
}

function optionalInt(body: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new Refusal(400, `"${key}" must be an integer in [${min}, ${max}]`);
  return v;
}

async function readJson(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/json')) throw new Refusal(415, `send JSON (content-type: application/json), not ${type || 'no content type'}`);
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new Refusal(413, `the body has ${declared} bytes (limit ${limit})`, { connection: 'close' });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new Refusal(413, `the body is over ${limit} bytes`, { connection: 'close' });
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (e) {
    throw new Refusal(400, `the body is not valid JSON: ${(e as Error).message}`);
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Refusal(400, 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

function send(res: ServerResponse, status: number, body: unknown, type: string, headers: Record<string, string>): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
