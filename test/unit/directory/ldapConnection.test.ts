/** The shared LDAP connection's life cycle with a fake client: lazy open, drop and retry once, close. */
import { NoSuchObjectError, type Client } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { connectTimeoutOf, LdapConnection, openFirst, serverName, tlsBaseOf, type LdapConnectionOptions } from '../../../src/directory/ldapConnection.js';
import { DirectoryError } from '../../../src/directory/types.js';

const opts: LdapConnectionOptions = {
  urls: ['ldap://a', 'ldap://b'],
  bindDN: 'cn=apg',
  bindPassword: 'pw',
  startTLS: false,
  rejectUnauthorized: true,
  timeoutMs: 1000,
};
const signal = () => new AbortController().signal;

interface FakeClient {
  id: number;
  isConnected: boolean;
  isBound: boolean;
  unbound: boolean;
  unbind(): Promise<void>;
}

function fakes() {
  const made: FakeClient[] = [];
  const open = () => {
    const c: FakeClient = {
      id: made.length,
      isConnected: true,
      isBound: true,
      unbound: false,
      unbind() {
        this.unbound = true;
        this.isConnected = false;
        return Promise.resolve();
      },
    };
    made.push(c);
    return Promise.resolve(c as unknown as Client);
  };
  return { made, open };
}

const idOf = (c: Client) => Promise.resolve((c as unknown as FakeClient).id);

describe('LdapConnection', () => {
  it('opens lazily, once, and shares the connection', async () => {
    const f = fakes();
    const conn = new LdapConnection(opts, f.open);
    expect(f.made).toHaveLength(0);
    expect(await Promise.all([conn.run(signal(), idOf), conn.run(signal(), idOf)])).toEqual([0, 0]);
    expect(f.made).toHaveLength(1);
  });

  it('a transport failure drops the connection and the operation runs once more on a new one', async () => {
    const f = fakes();
    const conn = new LdapConnection(opts, f.open);
    let calls = 0;
    const id = await conn.run(signal(), (c) => (calls++ === 0 ? Promise.reject(new Error('socket closed')) : idOf(c)));
    expect(id).toBe(1);
    expect(f.made[0].unbound).toBe(true);
  });

  it('a second transport failure fails with a fixed message', async () => {
    const conn = new LdapConnection(opts, fakes().open);
    await expect(conn.run(signal(), () => Promise.reject(new Error('secret detail')))).rejects.toThrow(new DirectoryError('LDAP operation failed'));
  });

  it('a server answer (result code) keeps the connection', async () => {
    const f = fakes();
    const conn = new LdapConnection(opts, f.open);
    await expect(conn.run(signal(), () => Promise.reject(new NoSuchObjectError()))).rejects.toBeInstanceOf(NoSuchObjectError);
    expect(await conn.run(signal(), idOf)).toBe(0);
    expect(f.made).toHaveLength(1);
  });

  it('a connection that went away since it was opened is replaced', async () => {
    const f = fakes();
    const conn = new LdapConnection(opts, f.open);
    await conn.run(signal(), idOf);
    f.made[0].isBound = false;
    expect(await conn.run(signal(), idOf)).toBe(1);
  });

  it('close unbinds and later operations fail', async () => {
    const f = fakes();
    const conn = new LdapConnection(opts, f.open);
    await conn.run(signal(), idOf);
    conn.close();
    expect(conn.isClosed).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(f.made[0].unbound).toBe(true);
    await expect(conn.run(signal(), idOf)).rejects.toThrow('closed');
  });
});

describe('openFirst', () => {
  it('tries the URLs in order and unbinds those that fail', async () => {
    const tried: string[] = [];
    const unbound: string[] = [];
    const client = (url: string) =>
      ({
        isConnected: url === 'ldap://b',
        bind: () => Promise.resolve(),
        unbind: () => {
          unbound.push(url);
          return Promise.resolve();
        },
      }) as unknown as Client;
    const c = await openFirst(
      opts,
      () => false,
      (url) => (tried.push(url), client(url)),
    );
    expect(tried).toEqual(['ldap://a', 'ldap://b']);
    expect(unbound).toEqual(['ldap://a']);
    expect(c.isConnected).toBe(true);
  });

  it('none binds: a fixed message; closed: stops trying', async () => {
    const failing = () => ({ bind: () => Promise.reject(new Error('x')), unbind: () => Promise.resolve() }) as unknown as Client;
    await expect(openFirst(opts, () => false, failing)).rejects.toThrow('no LDAP server could be reached and bound');
    let made = 0;
    await expect(
      openFirst(
        opts,
        () => true,
        () => (made++, failing()),
      ),
    ).rejects.toThrow(DirectoryError);
    expect(made).toBe(0);
  });
});

describe('connection helpers', () => {
  it('connectTimeoutOf shares the timeout between URLs, at least 200 ms', () => {
    expect(connectTimeoutOf(3000, 2)).toBe(1500);
    expect(connectTimeoutOf(300, 3)).toBe(200);
  });

  it('serverName: none for IP addresses', () => {
    expect(serverName('127.0.0.1')).toBeUndefined();
    expect(serverName('::1')).toBeUndefined();
    expect(serverName('dc1.contoso.com')).toBe('dc1.contoso.com');
  });

  it('tlsBaseOf adds the CA only when given', () => {
    expect(tlsBaseOf({ rejectUnauthorized: false })).toEqual({ rejectUnauthorized: false });
    expect(tlsBaseOf({ rejectUnauthorized: true, ca: 'PEM' })).toEqual({ rejectUnauthorized: true, ca: 'PEM' });
  });
});
