/**
 * The primary's answers to its workers (SPEC §8 v3): the one governance writer, the one
 * state owner, the console's sessions, forwarding's checkpoints, the admin lock and the
 * metrics sum. Each worker gets its own handler table, so what it holds (the lock, open
 * streams) is released when it dies.
 */
import type { SessionStore } from '../console/sessions.js';
import type { Forwarding } from '../governance/forward/index.js';
import { summaryReport, type BucketKind } from '../governance/reports.js';
import type { GovernanceEntry, GovernanceEntryInput, GovernanceSink, QueryFilter, ReadOptions } from '../governance/types.js';
import type { StateStore } from '../state/types.js';
import { StateUnavailableError } from '../state/types.js';
import type { Hello } from './remote.js';
import type { Handlers } from './rpc.js';

/** What the primary owns and shares. */
export interface Owned {
  governance: GovernanceSink;
  state: StateStore;
  /** the console's sessions, when they live in this machine's memory */
  sessions: SessionStore | null;
  forwarding: Forwarding;
  checkpoints: boolean;
}

/** What every worker's calls share: the one admin lock and the sum of all processes' metrics. */
export interface Shared {
  lock: AdminLock;
  /** the Prometheus text of every process, summed */
  scrape(): Promise<string>;
}

/** One lock for every worker's admin changes, granted in order of asking. */
export class AdminLock {
  private holder: { worker: number; token: number } | null = null;
  private waiting: { worker: number; grant: (token: number) => void }[] = [];
  private next = 1;

  acquire(worker: number): Promise<number> {
    return new Promise((grant) => {
      this.waiting.push({ worker, grant });
      this.pass();
    });
  }

  /** the holder's release: `token` is the one it was granted */
  release(worker: number, token: number): void {
    if (this.holder?.worker === worker && this.holder.token === token) this.holder = null;
    this.pass();
  }

  /** a dead worker: its hold and its waiting end */
  drop(worker: number): void {
    if (this.holder?.worker === worker) this.holder = null;
    this.waiting = this.waiting.filter((w) => w.worker !== worker);
    this.pass();
  }

  private pass(): void {
    if (this.holder) return;
    const w = this.waiting.shift();
    if (!w) return;
    this.holder = { worker: w.worker, token: this.next++ };
    w.grant(this.holder.token);
  }
}

const PAGE = 256;

/** A worker's open governance streams, pulled a page at a time. */
export class Streams {
  private open = new Map<number, AsyncIterator<GovernanceEntry>>();
  private next = 1;

  start(sink: GovernanceSink, filter: QueryFilter): number {
    const id = this.next++;
    this.open.set(id, sink.stream(filter)[Symbol.asyncIterator]());
    return id;
  }

  async page(id: number): Promise<GovernanceEntry[] | null> {
    const it = this.open.get(id);
    if (!it) return null;
    const entries: GovernanceEntry[] = [];
    while (entries.length < PAGE) {
      const r = await it.next();
      if (r.done) break;
      entries.push(r.value);
    }
    if (entries.length === 0) this.open.delete(id);
    return entries.length === 0 ? null : entries;
  }

  async close(id?: number): Promise<void> {
    const ids = id === undefined ? [...this.open.keys()] : [id];
    for (const i of ids) {
      const it = this.open.get(i);
      this.open.delete(i);
      await it?.return?.().catch(() => undefined);
    }
  }
}

function governanceHandlers(sink: GovernanceSink, streams: Streams) {
  return {
    'governance.append': (input: GovernanceEntryInput) => sink.append(input),
    'governance.read': (opts: ReadOptions) => sink.read(opts),
    'governance.verify': () => sink.verify(),
    'governance.readRange': (a: { afterSeq: number; limit: number }) => sink.readRange(a.afterSeq, a.limit),
    'governance.head': () => sink.head(),
    'governance.streamOpen': (filter: QueryFilter) => streams.start(sink, filter),
    'governance.streamNext': (id: number) => streams.page(id),
    'governance.streamClose': (id: number) => streams.close(id),
    'reports.summary': ([filter, kind]: [QueryFilter, BucketKind]) => summaryReport(sink.stream(filter), kind),
  };
}

/** The store's mutations, by name: exactly the StateStore methods that change state. */
const MUTATIONS = ['addGroup', 'removeGroup', 'grant', 'revoke', 'createRevealRequest', 'decideRevealRequest', 'createChange', 'decideChange'] as const;

function stateHandlers(state: StateStore): Handlers {
  const h: Handlers = {};
  for (const m of MUTATIONS) h[`state.${m}`] = (args: unknown[]) => (state[m] as (...a: unknown[]) => Promise<unknown>)(...args);
  return h;
}

function sessionHandlers(sessions: SessionStore | null): Handlers {
  const store = (): SessionStore => {
    if (!sessions) throw new StateUnavailableError('console sessions are not kept by the primary');
    return sessions;
  };
  return {
    'sessions.put': ([k, id, data, exp]: Parameters<SessionStore['put']>) => store().put(k, id, data, exp),
    'sessions.get': ([k, id, now]: Parameters<SessionStore['get']>) => store().get(k, id, now),
    'sessions.take': ([k, id, now]: Parameters<SessionStore['take']>) => store().take(k, id, now),
    'sessions.delete': ([k, id]: Parameters<SessionStore['delete']>) => store().delete(k, id),
  };
}

/** The table of one worker's calls. */
export function workerHandlers(owned: Owned, shared: Shared, worker: number, streams: Streams): Handlers {
  const { lock } = shared;
  return {
    hello: (): Hello => ({
      state: owned.state.current(),
      health: { state: owned.state.healthy(), governance: owned.governance.healthy() },
      checkpoints: owned.checkpoints,
    }),
    ...governanceHandlers(owned.governance, streams),
    ...stateHandlers(owned.state),
    ...sessionHandlers(owned.sessions),
    'forwarding.checkpoint': () => owned.forwarding.checkpoint(),
    'forwarding.tickCheckpoints': () => owned.forwarding.tickCheckpoints(),
    'lock.acquire': () => lock.acquire(worker),
    'lock.release': (token: number) => lock.release(worker, token),
    'metrics.scrape': () => shared.scrape(),
  };
}
