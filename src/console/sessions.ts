/**
 * Server-side records of the console (SPEC §13): signed-in sessions and pending sign-ins
 * (the `state`, `nonce` and PKCE verifier of one authorization request). The browser holds
 * only a random id in a cookie; stores key records by the SHA-256 of that id, so whoever
 * reads the store (a database dump, a replica's memory) cannot turn it into a cookie.
 */
import { createHash, randomBytes } from 'node:crypto';

export type RecordKind = 'session' | 'login';

export interface SessionData {
  principal: string;
  roles: string[];
  /** compared with the X-CSRF-Token header of state-changing calls */
  csrf: string;
  iss: string;
  /** the ID token's jti, when it has one (recorded like a bearer token's) */
  jti?: string;
  createdAt: number;
  expiresAt: number;
}

export interface LoginData {
  state: string;
  nonce: string;
  codeVerifier: string;
  redirectUri: string;
  expiresAt: number;
}

export interface SessionStore {
  put(kind: RecordKind, id: string, data: SessionData | LoginData, expiresAt: number): Promise<void>;
  /** the record while it has not expired at `now` */
  get(kind: 'session', id: string, now: number): Promise<SessionData | undefined>;
  /** reads and deletes in one step: a pending sign-in is used at most once */
  take(kind: 'login', id: string, now: number): Promise<LoginData | undefined>;
  delete(kind: RecordKind, id: string): Promise<void>;
  close(): Promise<void>;
}

/** 256 random bits, base64url: the cookie value. */
export function newId(): string {
  return randomBytes(32).toString('base64url');
}

/** What stores index by. */
export function keyOf(kind: RecordKind, id: string): string {
  return `${kind}:${createHash('sha256').update(id).digest('hex')}`;
}

/** A cookie value that could be one of our ids; anything else is not looked up at all. */
export function plausibleId(id: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(id);
}

/** One process's records (a single instance, or tests). Bounded: the oldest go first. */
export function createMemorySessionStore(maxRecords = 10_000): SessionStore {
  const records = new Map<string, { data: SessionData | LoginData; expiresAt: number }>();
  const live = (key: string, now: number) => {
    const r = records.get(key);
    if (r === undefined) return undefined;
    if (r.expiresAt <= now) {
      records.delete(key);
      return undefined;
    }
    return r.data;
  };
  return {
    async put(kind, id, data, expiresAt) {
      const key = keyOf(kind, id);
      records.delete(key);
      records.set(key, { data, expiresAt });
      while (records.size > maxRecords) records.delete(records.keys().next().value!);
    },
    async get(kind, id, now) {
      return live(keyOf(kind, id), now) as SessionData | undefined;
    },
    async take(kind, id, now) {
      const key = keyOf(kind, id);
      const data = live(key, now);
      records.delete(key);
      return data as LoginData | undefined;
    },
    async delete(kind, id) {
      records.delete(keyOf(kind, id));
    },
    async close() {
      records.clear();
    },
  };
}
