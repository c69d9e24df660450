import { createServer, type ServerResponse } from 'node:http';
import type { Observable } from 'rxjs';
import { errors } from '../errors.js';
import type { TrainEvent } from '../train/trainer.js';
import { dashboardPage } from './page.js';

export interface Dashboard {
  url: string;
  close(): Promise<void>;
}

/** Events kept for late viewers (a long run keeps its latest). */
const MAX_HISTORY = 20_000;

/**
 * Serves the live dashboard: `GET /` the page, `GET /events` a server-sent event stream of the
 * training events. A late client first gets every event so far (the latest 20 000), then the
 * placement in force, then the live stream. Bound to 127.0.0.1 unless
 * `host` says otherwise; a port in use is an error naming it.
 */
export async function serveDashboard(events$: Observable<TrainEvent>, { port = 0, host = '127.0.0.1' }: { port?: number; host?: string } = {}): Promise<Dashboard> {
  const clients = new Set<ServerResponse>();
  let replicas: number[][] | undefined;
  // Everything sent so far, so a viewer who opens the page late sees the run from its first step.
  const history: { type: string; data: string }[] = [];
  const send = (res: ServerResponse, type: string, data: string) => res.write(`event: ${type}\ndata: ${data}\n\n`);
  const sub = events$.subscribe((e) => {
    if (e.type === 'train-begin' && e.replicas) replicas = e.replicas;
    if (e.type === 'rebalance' && e.layer === 0) replicas = e.replicas;
    // The per-expert count matrices are large and the page does not draw them.
    const { expertCounts: _counts, sourceCounts: _sources, ...light } = e as TrainEvent & { expertCounts?: unknown; sourceCounts?: unknown };
    const data = JSON.stringify(light);
    history.push({ type: e.type, data });
    if (history.length > MAX_HISTORY) history.splice(0, history.length - MAX_HISTORY);
    for (const c of clients) send(c, e.type, data);
  });
  const server = createServer((req, res) => {
    if (req.url === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      for (const h of history) send(res, h.type, h.data);
      send(res, 'state', JSON.stringify({ replicas }));
      clients.add(res);
      req.on('close', () => clients.delete(res));
      return;
    }
    if (req.url === '/' || req.url === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(dashboardPage);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE' ? errors.badArgument('dashboard', `port ${port} on ${host} is already in use`) : e));
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as { port: number };
  return {
    url: `http://${host}:${addr.port}/`,
    close: async () => {
      sub.unsubscribe();
      for (const c of clients) c.end();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
