/**
 * Finds a PostgreSQL server for the Postgres suites and gives each test file
 * its own throwaway database. Order: DATABASE_URL; a server on
 * 127.0.0.1:5432 with trust auth (user postgres or root); a temporary
 * cluster from a local initdb/pg_ctl; otherwise null, and the suites skip
 * with a loud message.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface FreshDatabase {
  url: string;
  drop(): Promise<void>;
}

let serverPromise: Promise<string | null> | undefined;

/** URL of a maintenance database on a reachable server, or null. Cached per process. */
export function findServer(): Promise<string | null> {
  serverPromise ??= locate();
  return serverPromise;
}

async function locate(): Promise<string | null> {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  for (const user of ['postgres', 'root']) {
    const url = `postgres://${user}@127.0.0.1:5432/postgres`;
    if (await answers(url)) return url;
  }
  return startTemporaryCluster();
}

async function answers(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1500 });
  c.on('error', () => {});
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

/** initdb refuses to run as root, so this only helps unprivileged runs. */
async function startTemporaryCluster(): Promise<string | null> {
  if (process.getuid?.() === 0) return null;
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const bin = readdirSync(base)
    .map((v) => join(base, v, 'bin'))
    .find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl')));
  if (!bin) return null;
  const dir = mkdtempSync(join(tmpdir(), 'apg-pg-'));
  const data = join(dir, 'data');
  const init = spawnSync(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync'], { stdio: 'ignore' });
  if (init.status !== 0) return null;
  const port = await freePort();
  const start = spawnSync(
    join(bin, 'pg_ctl'),
    ['-D', data, '-w', '-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start'],
    { stdio: 'ignore' },
  );
  if (start.status !== 0) return null;
  process.on('exit', () => {
    spawnSync(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop'], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  });
  return `postgres://postgres@127.0.0.1:${port}/postgres`;
}

/** A port nobody listens on right now (also used by tests to point a client at a closed port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function admin<T>(serverUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 3000 });
  c.on('error', () => {});
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

/** Creates apg_test_<random> on the server; drop() removes it (terminating leftover connections). */
export async function freshDatabase(): Promise<FreshDatabase | null> {
  const server = await findServer();
  if (!server) {
    console.warn(
      [
        '',
        '#################################################################',
        '#  PostgreSQL not found: the PostgreSQL suites are SKIPPED.      #',
        '#  Set DATABASE_URL, run a server on 127.0.0.1:5432, or install  #',
        '#  postgresql (initdb/pg_ctl) to run them.                       #',
        '#################################################################',
        '',
      ].join('\n'),
    );
    return null;
  }
  const name = `apg_test_${randomBytes(6).toString('hex')}`;
  await admin(server, (c) => c.query(`CREATE DATABASE ${name}`));
  const u = new URL(server);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: () => admin(server, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** Runs one statement on `url` with a short-lived connection (tests: tampering, terminating backends). */
export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(url: string, text: string, params: unknown[] = []): Promise<R[]> {
  return admin(url, async (c) => (await c.query<R>(text, params)).rows);
}

/**
 * A TCP relay in front of the server, to take the database "away" from a
 * client without touching the server: stop() closes the port and cuts every
 * connection (database down), hang(true) stops relaying bytes while keeping
 * connections open (database hangs), start() listens on the same port again.
 */
export interface TcpProxy {
  port: number;
  /** `url` with host and port replaced by the relay's */
  via(url: string): string;
  stop(): Promise<void>;
  start(): Promise<void>;
  hang(on: boolean): void;
}

export async function startTcpProxy(targetUrl: string): Promise<TcpProxy> {
  const target = new URL(targetUrl);
  const targetPort = Number(target.port || 5432);
  const targetHost = target.hostname;
  const sockets = new Set<Socket>();
  let hung = false;
  let server: Server | undefined;
  let port = 0;

  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    if (hung) s.pause();
  };
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const srv = createServer((down) => {
        const up = createConnection({ host: targetHost, port: targetPort });
        track(down);
        track(up);
        down.pipe(up);
        up.pipe(down);
        down.on('close', () => up.destroy());
        up.on('close', () => down.destroy());
      });
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => {
        port = (srv.address() as { port: number }).port;
        server = srv;
        resolve();
      });
    });
  await listen();
  return {
    get port() {
      return port;
    },
    via(url: string) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    async stop() {
      const srv = server;
      server = undefined;
      for (const s of sockets) s.destroy();
      if (srv) await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
    start: listen,
    hang(on: boolean) {
      hung = on;
      for (const s of sockets) {
        if (on) s.pause();
        else s.resume();
      }
    },
  };
}
