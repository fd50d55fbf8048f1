/**
 * One request's journey through the gateway: the request and response, the
 * runtime it started with, and the facts each stage adds (route, reveal
 * decision, what was removed, why it ended the way it did). Stages receive the
 * Exchange and read typed fields; nothing is tagged onto `req`.
 *
 * `observeEnd` is the one place that sees a response end, however it ends
 * (sent, cut off, client gone): it clears the deadline, aborts the upstream
 * when the client went away, and hands the finished exchange to the recorder
 * (metrics, access line).
 */
import type http from 'node:http';
import type { CompiledRoute, RouteKind } from '../routes/table.js';
import { Deadlines, type Deadline } from './deadlines.js';
import { NO_REVEAL, type RevealDecision } from './reveal.js';
import type { Runtime } from './runtime.js';
import type { VouchedIdentity } from './vouchedIdentity.js';

export type ExchangeKind = RouteKind | 'none' | 'admin';

/** The deadlines of every exchange that is not given its own (one timer per duration, not one per request). */
const SHARED_DEADLINES = new Deadlines();

export class Exchange {
  readonly started = performance.now();
  readonly method: string;
  /** normalised path ('(rejected)' when normalisation failed) */
  path = '';
  query = '';
  route?: CompiledRoute;
  kind: ExchangeKind = 'none';
  reveal: RevealDecision = NO_REVEAL;
  /** a HEAD on a list or item route: fetched as GET upstream, answered without body */
  headOnly = false;
  /** the identity the gateway vouches for (a console session forwarded into the pipeline) */
  vouched?: VouchedIdentity;
  /** verified admin principal (access line) */
  principal?: string;
  /** SPEC §10: whether a reveal carried a reason (access line; never its text) */
  reason?: boolean;
  /** private activities removed from the answer */
  removed = 0;
  /** why the exchange ended unusually (access line): `cut_off:…`, `invalid_token:…` */
  note?: string;
  /** why a sent token did not verify (SPEC §5 why word; access line) */
  tokenError?: string;
  /** the request to the upstream, once sent */
  upstreamRequest?: http.ClientRequest;
  /** the upstream's answer, once its headers arrived */
  upstreamResponse?: http.IncomingMessage;
  /** aborts the upstream exchange of a passthrough through the pool (passUpstream.ts) */
  upstreamAbort?: () => void;
  private deadline?: Deadline;
  private isEnded = false;

  constructor(
    readonly id: string,
    readonly req: http.IncomingMessage,
    readonly res: http.ServerResponse,
    readonly rt: Runtime,
    private readonly deadlines: Deadlines = SHARED_DEADLINES,
  ) {
    this.method = req.method ?? 'GET';
  }

  /** the response ended (sent or closed): late events must not touch it */
  get ended(): boolean {
    return this.isEnded;
  }

  /** the answer is complete or the response is gone: stages stop */
  get answered(): boolean {
    return this.isEnded || this.res.writableEnded;
  }

  /** Runs `onExpire` unless the exchange ends (or the deadline is cleared) within `ms`. */
  setDeadline(ms: number, onExpire: () => void): void {
    this.clearDeadline();
    this.deadline = this.deadlines.set(ms, () => {
      if (!this.isEnded) onExpire();
    });
  }

  clearDeadline(): void {
    if (!this.deadline) return;
    this.deadlines.clear(this.deadline);
    this.deadline = undefined;
  }

  /** Stops talking to the upstream (request and answer). */
  abortUpstream(): void {
    this.upstreamRequest?.destroy();
    this.upstreamResponse?.destroy();
    this.upstreamAbort?.();
  }

  /** Ends a response whose headers already left by resetting it: never completed with unchecked bytes. */
  cutOff(why: string): void {
    this.note ??= `cut_off:${why}`;
    this.res.destroy();
  }

  /** Called once by observeEnd. */
  markEnded(): void {
    this.isEnded = true;
  }
}

export interface EndFacts {
  /** the response was sent completely */
  completed: boolean;
  /** status sent; 0 when no status line left */
  status: number;
}

/**
 * The one place that observes the end of a response (as fastify's
 * setupResponseListeners does): `finish` (sent) or `close` (cut off, client
 * gone), whichever comes first, exactly once.
 */
export function observeEnd(ex: Exchange, onEnd: (ex: Exchange, facts: EndFacts) => void): void {
  const { res } = ex;
  const end = (): void => {
    if (ex.ended) return;
    ex.markEnded();
    ex.clearDeadline();
    const completed = res.writableFinished;
    if (!completed) {
      ex.note ??= res.headersSent ? 'cut_off' : 'client_closed';
      ex.abortUpstream();
    }
    onEnd(ex, { completed, status: completed || res.headersSent ? res.statusCode : 0 });
  };
  res.once('finish', end);
  res.once('close', end);
}
