/**
 * The worker's stores over the primary's (src/cluster/rpc.ts, remote.ts, host.ts) on a real
 * message channel (worker_threads' MessageChannel: structured clone, like IPC), with a real
 * file governance sink and the memory state store behind it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminLock, Streams, workerHandlers, type Owned } from '../../../src/cluster/host.js';
import { remoteGovernance, remoteSerialiser, remoteSessions, remoteState, remoteSummarise } from '../../../src/cluster/remote.js';
import { createMemorySessionStore, newId } from '../../../src/console/sessions.js';
import { createPeer, type Channel, type Peer } from '../../../src/cluster/rpc.js';
import { openFileSink } from '../../../src/governance/fileSink.js';
import { summaryReport } from '../../../src/governance/reports.js';
import { GovernanceUnavailableError, type GovernanceSink } from '../../../src/governance/types.js';
import { createMemoryStateStore } from '../../../src/state/memoryStore.js';
import { StateConflictError, StateUnavailableError } from '../../../src/state/types.js';
import { tempDir } from '../../helpers/gateway.js';

function portChannel(port: MessagePort): Channel & { close(): void } {
  let open = true;
  return {
    send: (m) => port.postMessage(m),
    onMessage: (l) => port.on('message', l),
    connected: () => open,
    close: () => {
      open = false;
      port.close();
    },
  };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const lost = (message: string, method: string) => (method.startsWith('state.') ? new StateUnavailableError(message) : new GovernanceUnavailableError(message));

/** A primary owning a file sink and a memory state, and one worker peer talking to it. */
async function pair(): Promise<{ worker: Peer; sink: GovernanceSink; owned: Owned; file: string; cut(): void; pushes: unknown[]; another(): Peer }> {
  const { dir, cleanup } = await tempDir('apg-cluster-');
  const file = path.join(dir, 'governance.jsonl');
  const sink = await openFileSink({ file, instance: 'primary' });
  const state = createMemoryStateStore();
  const owned: Owned = {
    governance: sink,
    state,
    sessions: createMemorySessionStore(),
    forwarding: null as never,
    checkpoints: false,
  };
  const shared = { lock: new AdminLock(), scrape: async () => 'm 1\n' };
  const { port1, port2 } = new MessageChannel();
  const a = portChannel(port1);
  const b = portChannel(port2);
  const primary = createPeer({ channel: a, handlers: workerHandlers(owned, shared, 1, new Streams()), lost });
  /** a second worker of the same primary */
  const another = () => {
    const { port1: p1, port2: p2 } = new MessageChannel();
    const c1 = portChannel(p1);
    const c2 = portChannel(p2);
    createPeer({ channel: c1, handlers: workerHandlers(owned, shared, 2, new Streams()), lost });
    cleanups.push(() => (c1.close(), c2.close()));
    return createPeer({ channel: c2, handlers: {}, lost });
  };
  const pushes: unknown[] = [];
  const worker = createPeer({ channel: b, handlers: {}, lost, onPush: (_t, v) => pushes.push(v) });
  state.onChange((s) => primary.push('state', s));
  cleanups.push(async () => {
    a.close();
    b.close();
    await sink.close();
    await cleanup();
  });
  return { worker, sink, owned, file, pushes, another, cut: () => (a.close(), b.close(), worker.fail()) };
}

describe('a worker’s governance sink is the primary’s', () => {
  it('an append resolves with the entry the primary made durable; reads, stream pages and verify are the sink’s', async () => {
    const { worker, sink, file } = await pair();
    const remote = remoteGovernance(worker, () => true);
    const entries = [];
    for (let i = 0; i < 300; i++) entries.push(await remote.append({ action: 'private-activities.viewed', principal: `u${i}@contoso.com`, via: 'token' }));
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    const onDisk = readFileSync(file, 'utf8').trim().split('\n');
    expect(onDisk).toHaveLength(300);
    expect(JSON.parse(onDisk[299]).hash).toBe(entries[299].hash);

    const streamed = [];
    for await (const e of remote.stream({ afterSeq: 10, principal: 'u20@contoso.com' })) streamed.push(e.seq);
    expect(streamed).toEqual([21]);
    const all = [];
    for await (const e of remote.stream({})) all.push(e.seq);
    expect(all).toHaveLength(300); // more than one page of the primary's stream
    expect(await remote.verify()).toEqual(await sink.verify());
    expect(await remote.head()).toEqual(await sink.head());
    expect((await remote.read({ afterSeq: 295, limit: 2 })).entries.map((e) => e.seq)).toEqual([296, 297]);
  });

  it('the subject report’s person crosses as data and the sink beside it skips the other lines', async () => {
    const { worker, sink } = await pair();
    const seen: string[] = [];
    const stream = sink.stream.bind(sink);
    sink.stream = (f) => (seen.push(f.subject?.principal ?? 'none'), stream(f));
    for (let i = 0; i < 20; i++) await sink.append({ action: 'privacy-group.added', principal: `u${i % 4}@contoso.com`, target: 'hr' });
    const filter = { subject: { principal: 'u1@contoso.com', pseudonyms: [] } };
    const direct: number[] = [];
    for await (const e of stream(filter)) direct.push(e.seq);
    const remote: number[] = [];
    for await (const e of remoteGovernance(worker, () => true).stream(filter)) remote.push(e.seq);
    expect(remote).toEqual(direct);
    expect(direct).toEqual([2, 6, 10, 14, 18]);
    expect(seen).toEqual(['u1@contoso.com']);
  });

  it('the summary report is counted beside the sink: the worker gets the primary’s buckets, no entry crosses', async () => {
    const { worker, sink } = await pair();
    for (let i = 0; i < 30; i++) {
      const viewer = `v${i % 3}@contoso.com`;
      if (i % 5 === 4) await sink.append({ action: 'private-activities.denied', principal: viewer, denial: { code: 'forbidden', message: 'no' } });
      else await sink.append({ action: 'private-activities.viewed', principal: viewer, privateActivities: { count: i, ids: [] } });
    }
    const opened: unknown[] = [];
    const stream = sink.stream.bind(sink);
    const filter = { action: ['private-activities.viewed' as const, 'private-activities.denied' as const] };
    const direct = await summaryReport(stream(filter), 'day');
    sink.stream = (f) => (opened.push(f), stream(f));
    const remote = await remoteSummarise(worker)(filter, 'day');
    expect(remote).toEqual(direct);
    expect(direct.buckets[0]).toMatchObject({ reveals: 24, revealsDenied: 6 });
    expect(direct.byViewer.map((v) => v.reveals)).toEqual([8, 8, 8]);
    // one stream in the primary; nothing was paged over the channel
    expect(opened).toEqual([filter]);
  });

  it('fails closed: a sink that cannot write is GovernanceUnavailableError in the worker; so is a primary that is gone', async () => {
    const { worker, sink, cut } = await pair();
    const remote = remoteGovernance(worker, () => true);
    await sink.close();
    const err = await remote.append({ action: 'private-activities.viewed', principal: 'a@contoso.com' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GovernanceUnavailableError);
    expect((err as GovernanceUnavailableError).status).toBe(503);

    const pending = remote.head();
    cut();
    await expect(pending).rejects.toBeInstanceOf(GovernanceUnavailableError);
    await expect(remote.append({ action: 'private-activities.viewed', principal: 'a@contoso.com' })).rejects.toBeInstanceOf(GovernanceUnavailableError);
  });
});

describe('a worker’s state is the primary’s', () => {
  it('a change is pushed before it is answered: the worker reads its own write; conflicts keep their type', async () => {
    const { worker } = await pair();
    const remote = remoteState(worker, { groups: [], permissions: [] }, () => true);
    const added = await remote.addGroup('hr', 'HR', 1_000);
    expect(added.id).toBe('hr');
    const err = await remote.addGroup('hr', 'HR', 2_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateConflictError);
    expect((err as StateConflictError).status).toBe(409);
  });

  it('the state pushed by the primary precedes the answer of the change that made it', async () => {
    const { worker, pushes } = await pair();
    const remote = remoteState(worker, { groups: [], permissions: [] }, () => true);
    await remote.grant('judy@contoso.com', 'alice@contoso.com', 1_000);
    expect(pushes).toHaveLength(1);
    expect((pushes[0] as { permissions: { principal: string }[] }).permissions.map((p) => p.principal)).toEqual(['judy@contoso.com']);
  });

  it('a primary that is gone: changes are StateUnavailableError', async () => {
    const { worker, cut } = await pair();
    const remote = remoteState(worker, { groups: [], permissions: [] }, () => false);
    cut();
    await expect(remote.revoke('judy@contoso.com')).rejects.toBeInstanceOf(StateUnavailableError);
    expect(remote.healthy()).toBe(false);
  });
});

describe('the console’s sessions are the primary’s', () => {
  it('a sign-in started on one worker is finished on another, once; the session is known to both', async () => {
    const { worker, another } = await pair();
    const one = remoteSessions(worker);
    const two = remoteSessions(another());
    const login = newId();
    await one.put('login', login, { state: 's', nonce: 'n', codeVerifier: 'v', redirectUri: 'https://gw/cb', expiresAt: 5_000 }, 5_000);
    expect((await two.take('login', login, 1_000))?.state).toBe('s');
    expect(await one.take('login', login, 1_000)).toBeUndefined(); // used at most once, across workers
    const id = newId();
    const session = { principal: 'alice@contoso.com', roles: ['SecurityAdministrator'], csrf: 'c', iss: 'https://idp', createdAt: 0, expiresAt: 9_000 };
    await two.put('session', id, session, 9_000);
    expect(await one.get('session', id, 1_000)).toEqual(session);
    expect(await one.get('session', id, 9_001)).toBeUndefined();
    await one.delete('session', id);
    expect(await two.get('session', id, 1_000)).toBeUndefined();
  });
});

describe('one admin change at a time across the workers', () => {
  it('the lock is granted in order, and a dead worker’s hold and wait are dropped', async () => {
    const lock = new AdminLock();
    const order: string[] = [];
    const t1 = await lock.acquire(1);
    const second = lock.acquire(2).then((t) => (order.push('w2'), t));
    const third = lock.acquire(3).then((t) => (order.push('w3'), t));
    void lock.acquire(1).then(() => order.push('w1-again'));
    await Promise.resolve();
    expect(order).toEqual([]);
    lock.release(1, t1);
    const t2 = await second;
    expect(order).toEqual(['w2']);
    lock.drop(2); // worker 2 died holding it
    await third;
    expect(order).toEqual(['w2', 'w3']);
    expect(t2).toBeGreaterThan(t1);
  });

  it('remoteSerialiser runs changes of two workers one after another', async () => {
    const { worker } = await pair();
    const serialise = remoteSerialiser(worker);
    const log: string[] = [];
    let release!: () => void;
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const first = serialise(async () => {
      log.push('a-start');
      started();
      await new Promise<void>((r) => (release = r));
      log.push('a-end');
    });
    await running;
    const second = serialise(async () => log.push('b'));
    // two round trips to the primary: the second's acquire has arrived and waits
    await worker.call('hello');
    await worker.call('hello');
    expect(log).toEqual(['a-start']);
    release();
    await Promise.all([first, second]);
    expect(log).toEqual(['a-start', 'a-end', 'b']);
  });
});
