/**
 * The one bound LDAP connection of an LDAP source (ldap.ts), with ldapts.
 *
 * Opened lazily against the first URL of the list that connects, upgrades (StartTLS) and
 * binds; a connection that fails is dropped and the next operation opens a new one, trying
 * the URLs in order again (failover). A dropped connection is never reopened behind our
 * back: ldapts would reconnect without StartTLS and unbound, so the socket factories refuse
 * a second connection per client. Errors carry no directory data.
 */
import net from 'node:net';
import tls from 'node:tls';
import { Client, ResultCodeError } from 'ldapts';
import { abortable } from './deadline.js';
import { DirectoryError } from './types.js';

/** What connecting and binding needs of the LDAP options. */
export interface LdapConnectionOptions {
  /** tried in order */
  urls: readonly string[];
  bindDN: string | null;
  bindPassword: string | null;
  startTLS: boolean;
  /** PEM of the CA(s) to trust; undefined = Node's default CAs */
  ca?: string;
  rejectUnauthorized: boolean;
  timeoutMs: number;
}

/** The per-client knobs of onceOnlyClient. */
export interface ClientSettings {
  timeoutMs: number;
  connectTimeout: number;
  tlsBase: tls.ConnectionOptions;
}

/** "Who am I?" (RFC 4532): connects an anonymous client now. */
const WHO_AM_I = '1.3.6.1.4.1.4203.1.11.3';

export function tlsBaseOf(o: Pick<LdapConnectionOptions, 'rejectUnauthorized' | 'ca'>): tls.ConnectionOptions {
  return { rejectUnauthorized: o.rejectUnauthorized, ...(o.ca ? { ca: o.ca } : {}) };
}

/** Each URL gets its share of the timeout, at least 200 ms. */
export function connectTimeoutOf(timeoutMs: number, urls: number): number {
  return Math.max(200, Math.floor(timeoutMs / urls));
}

/** The TLS server name for a host: none for an IP address (SNI forbids it). */
export function serverName(host: string): string | undefined {
  return net.isIP(host) ? undefined : host;
}

/** A client that may connect exactly once (no silent, unencrypted, unbound reconnects). */
export function onceOnlyClient(url: string, s: ClientSettings): Client {
  const u = new URL(url);
  let opened = 0;
  const guard = () => {
    if (opened++ > 0) throw new DirectoryError('connection lost');
  };
  return new Client({
    url,
    timeout: s.timeoutMs,
    connectTimeout: s.connectTimeout,
    strictDN: false,
    // ldapts treats any tlsOptions as "connect with TLS": only for ldaps:// URLs
    ...(u.protocol === 'ldaps:' ? { tlsOptions: { ...s.tlsBase, servername: serverName(u.hostname) } } : {}),
    createConnection: ((port: number, host: string) => {
      guard();
      return net.connect(port, host);
    }) as typeof net.connect,
    createSecureConnection: (...args: unknown[]) => {
      // ldaps:// (port, host, options) or the StartTLS upgrade (options with the socket)
      if (typeof args[0] === 'number') {
        guard();
        return tls.connect(args[0], String(args[1]), args[2] as tls.ConnectionOptions);
      }
      return tls.connect(args[0] as tls.ConnectionOptions);
    },
  });
}

/** StartTLS when configured, then bind (or, anonymous, connect with "Who am I?"). */
export async function upgradeAndBind(client: Client, url: string, o: LdapConnectionOptions, tlsBase: tls.ConnectionOptions): Promise<void> {
  if (o.startTLS) {
    const host = new URL(url).hostname;
    await client.startTLS({ ...tlsBase, host, servername: serverName(host) });
  }
  if (o.bindDN !== null) {
    await client.bind(o.bindDN, o.bindPassword ?? '');
  } else {
    // a server that refuses the operation still answered
    await client.exop(WHO_AM_I).catch((err: unknown) => {
      if (!(err instanceof ResultCodeError)) throw err;
    });
  }
  if (!client.isConnected) throw new DirectoryError('connection lost');
}

/** The first URL that connects and binds (failover in order); stops early once `isClosed()`. */
export async function openFirst(o: LdapConnectionOptions, isClosed: () => boolean, newClient: (url: string) => Client): Promise<Client> {
  const tlsBase = tlsBaseOf(o);
  for (const url of o.urls) {
    if (isClosed()) break;
    const client = newClient(url);
    try {
      await upgradeAndBind(client, url, o, tlsBase);
      return client;
    } catch {
      await client.unbind().catch(() => undefined);
    }
  }
  throw new DirectoryError('no LDAP server could be reached and bound');
}

/** The shared connection: opened on first use, dropped on a transport failure, reopened by the next operation. */
export class LdapConnection {
  private current: Promise<Client> | null = null;
  private closed = false;
  private readonly open: () => Promise<Client>;

  /** `open` (tests) defaults to openFirst over the URLs with once-only clients. */
  constructor(
    private readonly opts: LdapConnectionOptions,
    open?: () => Promise<Client>,
  ) {
    const settings: ClientSettings = {
      timeoutMs: opts.timeoutMs,
      connectTimeout: connectTimeoutOf(opts.timeoutMs, opts.urls.length),
      tlsBase: tlsBaseOf(opts),
    };
    this.open =
      open ??
      (() =>
        openFirst(
          opts,
          () => this.closed,
          (url) => onceOnlyClient(url, settings),
        ));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Runs one operation; a transport failure drops the connection and is retried once on a new one. */
  async run<T>(signal: AbortSignal, op: (c: Client) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const c = await this.client(signal);
      try {
        return await abortable(op(c), signal);
      } catch (err) {
        if (err instanceof ResultCodeError) throw err; // the server answered; the connection is fine
        this.drop(c);
        if (attempt >= 1 || signal.aborted || this.closed) throw err instanceof DirectoryError ? err : new DirectoryError('LDAP operation failed');
      }
    }
  }

  close(): void {
    this.closed = true;
    const p = this.current;
    this.current = null;
    void p
      ?.then(
        (c) => c.unbind(),
        () => undefined,
      )
      .catch(() => undefined);
  }

  private async client(signal: AbortSignal): Promise<Client> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (this.closed) throw new DirectoryError('closed');
      const p = (this.current ??= this.open());
      let c: Client;
      try {
        c = await abortable(p, signal);
      } catch (err) {
        if (this.current === p) this.current = null;
        throw err;
      }
      if (c.isConnected && (this.opts.bindDN === null || c.isBound)) return c;
      // the shared connection went away since it was opened: open a new one (once)
      if (this.current === p) this.current = null;
      void c.unbind().catch(() => undefined);
    }
    throw new DirectoryError('connection lost');
  }

  private drop(c: Client): void {
    if (this.current !== null) {
      void this.current.then(
        (cur) => {
          if (cur === c) this.current = null;
        },
        () => undefined,
      );
    }
    void c.unbind().catch(() => undefined);
  }
}
