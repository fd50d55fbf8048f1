/**
 * Webhook delivery (SPEC §12): one POST per message, body = the entry's JSON
 * (or {"checkpoint":"<jws>"}), the configured headers, 2xx = delivered. The
 * whole exchange is bounded by timeoutMs; the response body is discarded.
 */
import http from 'node:http';
import https from 'node:https';
import { DeliveryError, type ForwardMessage, type Transport } from './types.js';

export interface WebhookOptions {
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
  connectTimeoutMs: number;
  tls: { ca?: string; cert?: string; key?: string };
}

export class WebhookTransport implements Transport {
  onBroken: (() => void) | undefined;
  readonly resendMs = 0;
  private readonly url: URL;
  private readonly agent: http.Agent;

  constructor(private readonly opts: WebhookOptions) {
    this.url = new URL(opts.url);
    this.agent =
      this.url.protocol === 'https:'
        ? new https.Agent({ keepAlive: true, maxSockets: 2, ca: opts.tls.ca, cert: opts.tls.cert, key: opts.tls.key })
        : new http.Agent({ keepAlive: true, maxSockets: 2 });
  }

  async send(messages: readonly ForwardMessage[], delivered: (index: number) => void): Promise<void> {
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i];
      await this.post(m.kind === 'entry' ? m.text : JSON.stringify({ checkpoint: m.text }));
      delivered(i);
    }
  }

  private post(body: string): Promise<void> {
    const payload = Buffer.from(body, 'utf8');
    const lib = this.url.protocol === 'https:' ? https : http;
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = (err?: DeliveryError) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) {
          req.destroy();
          reject(err);
        } else resolve();
      };
      const timer = setTimeout(() => finish(new DeliveryError('ETIMEDOUT', `no complete answer within ${this.opts.timeoutMs} ms`)), this.opts.timeoutMs);
      const req = lib.request(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          headers: this.headers(payload.length),
        },
        (res) => {
          const status = res.statusCode ?? 0;
          // the status decides; the body is read and dropped (so the connection can be reused), never kept
          res.on('data', () => {});
          res.on('error', () => {});
          const drop = setTimeout(() => res.destroy(), this.opts.timeoutMs);
          drop.unref();
          res.on('close', () => clearTimeout(drop));
          if (status >= 200 && status < 300) {
            done = true;
            clearTimeout(timer);
            resolve();
          } else {
            res.on('end', () => finish(new DeliveryError(`HTTP_${status}`, `answered ${status}`)));
            res.on('close', () => finish(new DeliveryError(`HTTP_${status}`, `answered ${status}`)));
          }
        },
      );
      req.on('socket', (s) => {
        if (s.connecting) {
          s.setTimeout(this.opts.connectTimeoutMs, () => finish(new DeliveryError('ETIMEDOUT', `connect not done within ${this.opts.connectTimeoutMs} ms`)));
          s.once('connect', () => s.setTimeout(0));
        }
      });
      req.on('error', (err) => finish(new DeliveryError((err as NodeJS.ErrnoException).code ?? 'ERROR', `request failed: ${err.message}`, { cause: err })));
      req.end(payload);
    });
  }

  /** the configured headers (a configured Content-Type wins), and the body's length */
  private headers(length: number): Record<string, string> {
    const h: Record<string, string> = { 'content-type': 'application/json' };
    for (const [k, v] of Object.entries(this.opts.headers)) {
      if (k.toLowerCase() !== 'content-length' && k.toLowerCase() !== 'host') h[k.toLowerCase()] = v;
    }
    h['content-length'] = String(length);
    return h;
  }

  close(): void {
    this.agent.destroy();
  }
}
