/**
 * Best-effort webhook notifications (SPEC §11): `POST {"event","request"}` as
 * JSON, up to `tries` attempts with exponential back-off, each bounded by a
 * timeout. Never blocks the caller: `notify` returns at once and the delivery
 * runs in the background; a final failure is only reported (logs/metrics).
 * Deliveries are kept in a set so `close()` can wait for (or drop) them.
 */
export interface WebhookOptions {
  url: string;
  /** attempts in all (default 3) */
  tries?: number;
  /** wait before the 2nd attempt; doubled for each later one (default 1000 ms) */
  backoffMs?: number;
  /** per attempt (default 5000 ms) */
  timeoutMs?: number;
  onFailure?: (event: string, err: unknown) => void;
}

export interface Webhook {
  notify(event: string, payload: unknown): void;
  /** resolves when every delivery under way has finished (tests) */
  idle(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

export function createWebhook(opts: WebhookOptions): Webhook {
  const tries = opts.tries ?? 3;
  const backoff = opts.backoffMs ?? 1000;
  const timeout = opts.timeoutMs ?? 5000;
  const inFlight = new Set<Promise<void>>();

  async function deliver(event: string, body: string): Promise<void> {
    let last: unknown;
    for (let i = 0; i < tries; i++) {
      if (i > 0) await sleep(backoff * 2 ** (i - 1));
      try {
        const r = await fetch(opts.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(timeout),
          redirect: 'manual',
        });
        await r.arrayBuffer().catch(() => undefined);
        if (r.status >= 200 && r.status < 300) return;
        last = new Error(`webhook answered ${r.status}`);
      } catch (err) {
        last = err;
      }
    }
    opts.onFailure?.(event, last);
  }

  return {
    notify(event, payload) {
      const p = deliver(event, JSON.stringify({ event, request: payload })).catch(() => undefined);
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    },
    async idle() {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
  };
}
