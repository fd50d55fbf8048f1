import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditWith, recordWith, createSerialiser } from '../../../src/admin/changes.js';
import { AdminContext } from '../../../src/admin/context.js';
import { GovernanceUnavailableError } from '../../../src/governance/types.js';
import { toGatewayError } from '../../../src/http/errors.js';
import { Exchange } from '../../../src/http/exchange.js';
import { entries, makeParts, type Parts } from '../../helpers/units.js';

describe('createSerialiser', () => {
  it('runs changes one after another in call order; a failed one does not stop the next', async () => {
    const serialised = createSerialiser();
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const a = serialised(async () => {
      order.push('a:start');
      await gate;
      order.push('a:end');
      return 'a';
    });
    const b = serialised(async () => {
      order.push('b');
      throw new Error('b failed');
    });
    const c = serialised(async () => {
      order.push('c');
      return 'c';
    });
    // b and c wait for a, however many turns pass
    for (let i = 0; i < 10; i++) await Promise.resolve();
    expect(order).toEqual(['a:start']);
    release();
    await expect(a).resolves.toBe('a');
    await expect(b).rejects.toThrow('b failed');
    await expect(c).resolves.toBe('c');
    expect(order).toEqual(['a:start', 'a:end', 'b', 'c']);
  });

  it('two serialisers do not wait for each other', async () => {
    const one = createSerialiser();
    const two = createSerialiser();
    const blocked = one(() => new Promise<void>(() => undefined));
    await expect(two(async () => 'free')).resolves.toBe('free');
    void blocked;
  });
});

describe('auditWith', () => {
  let parts: Parts;
  beforeAll(async () => {
    parts = await makeParts('http://127.0.0.1:9');
  });
  afterAll(() => parts.close());

  function context(): AdminContext {
    const req = new http.IncomingMessage(new net.Socket());
    req.headers['user-agent'] = 'unit/1';
    const ex = new Exchange('rid-audit', req, new http.ServerResponse(req), parts.rt);
    ex.path = '/_gateway/api/privacy/groups';
    ex.query = 'x=1';
    const ctx = new AdminContext(ex);
    ctx.authenticated({ principal: 'alice@contoso.com', roles: [], via: 'admin-api' });
    return ctx;
  }

  it('writes the change entry (actor, request, target, extra) durably', async () => {
    await auditWith(() => parts.sink)(context(), 'reveal-permission.granted', 'dave@contoso.com', { permission: { groups: ['hr'] } });
    const log = await entries(parts);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({
      action: 'reveal-permission.granted',
      principal: 'alice@contoso.com',
      via: 'admin-api',
      target: 'dave@contoso.com',
      permission: { groups: ['hr'] },
      request: { id: 'rid-audit', method: 'GET', path: '/_gateway/api/privacy/groups', query: 'x=1', userAgent: 'unit/1' },
    });
  });

  it('no sink: 503 governance_unavailable, nothing written', async () => {
    const before = (await entries(parts)).length;
    const err = await auditWith(() => null)(context(), 'privacy-group.added', 'hr').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GovernanceUnavailableError);
    expect(toGatewayError(err).status).toBe(503);
    expect(toGatewayError(err).code).toBe('governance_unavailable');
    expect(await entries(parts)).toHaveLength(before);
  });

  it('asks for the sink at each change (a sink that comes back is used)', async () => {
    let sink: Parts['sink'] = null;
    const audit = auditWith(() => sink);
    await expect(audit(context(), 'privacy-group.added', 'hr')).rejects.toThrow();
    sink = parts.fileSink;
    const written = await audit(context(), 'privacy-group.added', 'hr');
    expect((await entries(parts)).at(-1)).toMatchObject({ action: 'privacy-group.added', target: 'hr', id: written.id });
  });

  // recordWith (v3): the log never says a change happened when it did not
  it('a change whose storage fails is followed by privacy-change.failed naming its entry; the error still answers', async () => {
    const record = recordWith(auditWith(() => parts.sink));
    const boom = new Error('disk gone');
    await expect(record(context(), { action: 'reveal-permission.revoked', target: 'alice@contoso.com', apply: () => Promise.reject(boom) })).rejects.toBe(boom);
    const [change, failed] = (await entries(parts)).slice(-2);
    expect(change).toMatchObject({ action: 'reveal-permission.revoked', target: 'alice@contoso.com' });
    expect(failed).toMatchObject({ action: 'privacy-change.failed', target: change.id, principal: change.principal });
  });

  it('a change that stores writes one entry and returns what the store returned', async () => {
    const record = recordWith(auditWith(() => parts.sink));
    const before = (await entries(parts)).length;
    await expect(record(context(), { action: 'privacy-group.added', target: 'ops', apply: async () => 42 })).resolves.toBe(42);
    expect((await entries(parts)).length).toBe(before + 1);
  });
});
