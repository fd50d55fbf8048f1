/**
 * One request/answer protocol over a process's IPC channel (node:cluster), used in both
 * directions: a worker calls the primary (governance appends, state changes, console
 * sessions, the admin lock, metrics), the primary calls a worker (its metrics). Errors
 * cross as their error-table code and come back as the same typed errors, so the journey
 * answers exactly as it would in one process. A lost channel fails every pending call.
 */
import { GatewayError, isErrorCode } from '../errors.js';
import { GovernanceUnavailableError } from '../governance/types.js';
import { StateConflictError, StateNotFoundError, StateUnavailableError } from '../state/types.js';

/** What a process sends and receives (worker.send / process.send and their 'message' events). */
export interface Channel {
  send(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  connected(): boolean;
}

export type Handler = (args: never) => unknown;
export type Handlers = Record<string, Handler>;

interface CallMessage {
  apg: 'call';
  id: number;
  method: string;
  args: unknown;
}

interface ReplyMessage {
  apg: 'reply';
  id: number;
  ok: boolean;
  value?: unknown;
  error?: WireError;
}

interface PushMessage {
  apg: 'push';
  topic: string;
  value: unknown;
}

/** An error as it crosses: its table code, the operators' message and what the client reads. */
export interface WireError {
  code?: string;
  message: string;
  publicMessage?: string;
}

export type Message = CallMessage | ReplyMessage | PushMessage;

export function isMessage(m: unknown): m is Message {
  return typeof m === 'object' && m !== null && typeof (m as { apg?: unknown }).apg === 'string';
}

/** The typed error an error-table code stands for (the message is for operators only). */
export function decodeError(e: WireError, unavailable: (msg: string) => Error): Error {
  switch (e.code) {
    case 'governance_unavailable':
      return new GovernanceUnavailableError(e.message);
    case 'state_unavailable':
      return new StateUnavailableError(e.message);
    case 'conflict':
      return new StateConflictError(e.message);
    case 'not_found':
      return new StateNotFoundError(e.message);
    default:
      return e.code !== undefined && isErrorCode(e.code) ? new GatewayError(e.code, e.message, { publicMessage: e.publicMessage }) : unavailable(e.message);
  }
}

function encodeError(err: unknown): WireError {
  const message = err instanceof Error ? err.message : String(err);
  return err instanceof GatewayError ? { code: err.code, message, publicMessage: err.publicMessage } : { message };
}

export interface Peer {
  /** asks the other side; rejects with `lost()` when the channel is gone or goes away before the answer */
  call<T>(method: string, args?: unknown): Promise<T>;
  push(topic: string, value: unknown): void;
  /** fails every pending call (the other side is gone) */
  fail(): void;
}

export interface PeerOptions {
  channel: Channel;
  handlers: Handlers;
  /** pushes from the other side */
  onPush?: (topic: string, value: unknown) => void;
  /** the error a call of `method` gets when the other side cannot answer */
  lost: (message: string, method: string) => Error;
}

/** Both ends of the protocol on one channel. */
export function createPeer(opts: PeerOptions): Peer {
  const pending = new Map<number, Pending>();
  let next = 1;
  const reply = (m: ReplyMessage) => {
    if (opts.channel.connected()) opts.channel.send(m);
  };
  opts.channel.onMessage((m) => {
    if (!isMessage(m)) return;
    if (m.apg === 'reply') settle(pending, m, opts.lost);
    else if (m.apg === 'push') opts.onPush?.(m.topic, m.value);
    else void answer(opts.handlers, m).then(reply);
  });
  return {
    call<T>(method: string, args?: unknown): Promise<T> {
      if (!opts.channel.connected()) return Promise.reject(opts.lost('the other process is gone', method));
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { method, resolve: resolve as (v: unknown) => void, reject });
        opts.channel.send({ apg: 'call', id, method, args } satisfies CallMessage);
      });
    },
    push(topic, value) {
      if (opts.channel.connected()) opts.channel.send({ apg: 'push', topic, value } satisfies PushMessage);
    },
    fail() {
      const calls = [...pending.values()];
      pending.clear();
      for (const c of calls) c.reject(opts.lost('the other process is gone', c.method));
    },
  };
}

interface Pending {
  method: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

function settle(pending: Map<number, Pending>, m: ReplyMessage, lost: (msg: string, method: string) => Error) {
  const p = pending.get(m.id);
  if (!p) return;
  pending.delete(m.id);
  if (m.ok) p.resolve(m.value);
  else p.reject(decodeError(m.error ?? { message: 'failed' }, (msg) => lost(msg, p.method)));
}

async function answer(handlers: Handlers, m: CallMessage): Promise<ReplyMessage> {
  const h = Object.hasOwn(handlers, m.method) ? handlers[m.method] : undefined;
  if (!h) return { apg: 'reply', id: m.id, ok: false, error: { message: `unknown method ${m.method}` } };
  try {
    const value = await (h as (args: unknown) => unknown)(m.args);
    return { apg: 'reply', id: m.id, ok: true, value };
  } catch (err) {
    return { apg: 'reply', id: m.id, ok: false, error: encodeError(err) };
  }
}
