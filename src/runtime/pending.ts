import { errors } from '../errors.js';

/**
 * Requests to one device waiting for their replies, each with a timeout: what a device handle
 * keeps whether the thread is here (device.ts) or on a host (hosts/remote-device.ts).
 */
export class PendingReplies {
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void; timer: NodeJS.Timeout; what: string }>();
  private next = 1;

  constructor(private readonly device: number) {}

  /** Sends a request numbered `req` (via `send`) and resolves with its reply; `timeoutWhy` says what timing out means. */
  open<T>(send: (req: number) => void, timeoutMs: number, what: string, timeoutWhy = 'no reply'): Promise<T> {
    const req = this.next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(req);
        reject(errors.askTimeout(what, this.device, timeoutMs, timeoutWhy));
      }, timeoutMs);
      this.pending.set(req, { resolve, reject, timer, what });
      try {
        send(req);
      } catch (e) {
        this.settleError(req, e as Error);
      }
    });
  }

  /** A reply came: the request's promise settles (an unknown or timed-out request is ignored). */
  settle(req: number, ok: boolean, value: unknown, error?: string): void {
    const p = this.pending.get(req);
    if (!p) return;
    this.pending.delete(req);
    clearTimeout(p.timer);
    if (ok) p.resolve(value);
    else p.reject(errors.actorFailed(p.what, this.device, error ?? 'unknown error'));
  }

  private settleError(req: number, e: Error): void {
    const p = this.pending.get(req);
    if (!p) return;
    this.pending.delete(req);
    clearTimeout(p.timer);
    p.reject(e);
  }

  /** Rejects every request in flight (the device died, or was stopped). */
  failAll(e: Error): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
  }
}
