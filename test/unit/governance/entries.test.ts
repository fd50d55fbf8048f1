import http from 'node:http';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { changeEntry, deniedEntry, requestInfo, viewedEntry, type RequestSeen } from '../../../src/governance/entries.js';

function seen(headers: http.IncomingHttpHeaders = {}): RequestSeen {
  const req = new http.IncomingMessage(new net.Socket());
  Object.assign(req.headers, headers);
  return { req, id: 'rid-1', method: 'GET', path: '/api/v1/activities', query: 'page=2' };
}

const ACTOR = { principal: 'alice@contoso.com', via: 'header' as const, token: { iss: 'https://idp', jti: 'j-1' } };

describe('requestInfo', () => {
  it('the request as seen: id, method, normalised path, raw query, client and user agent', () => {
    expect(requestInfo(seen({ 'user-agent': 'curl/8' }))).toEqual({
      id: 'rid-1',
      method: 'GET',
      path: '/api/v1/activities',
      query: 'page=2',
      clientIp: '',
      userAgent: 'curl/8',
    });
  });

  it('no user agent is the empty string', () => {
    expect(requestInfo(seen()).userAgent).toBe('');
  });
});

describe('viewedEntry', () => {
  it('with every fact: reason, scope (copied), request, token with jti, the shown tally', () => {
    const scope = { groups: ['hr'], actors: ['bob@contoso.com'] };
    const e = viewedEntry(
      ACTOR,
      seen(),
      { reason: 'Incident 4711', scope, revealRequest: 'req-9' },
      { count: 2, ids: ['a', 'b'], actors: new Map([['bob@contoso.com', 2]]) },
    );
    expect(e).toEqual({
      action: 'private-activities.viewed',
      principal: 'alice@contoso.com',
      via: 'header',
      request: requestInfo(seen()),
      privateActivities: { count: 2, ids: ['a', 'b'], actors: [{ principal: 'bob@contoso.com', count: 2 }] },
      reason: 'Incident 4711',
      scope: { groups: ['hr'], actors: ['bob@contoso.com'] },
      revealRequest: 'req-9',
      token: { iss: 'https://idp', jti: 'j-1' },
    });
    // copies: a later change to the caller's arrays does not reach the entry
    expect(e.scope!.groups).not.toBe(scope.groups);
    scope.groups.push('legal');
    expect(e.scope!.groups).toEqual(['hr']);
  });

  it('absent facts are absent keys, never undefined or empty values', () => {
    const e = viewedEntry({ principal: 'alice@contoso.com', via: 'console' }, seen(), {}, { count: 0, ids: [], actors: new Map() });
    for (const k of ['reason', 'scope', 'revealRequest', 'token', 'denial', 'target', 'permission']) expect(k in e, k).toBe(false);
    expect(e.privateActivities).toEqual({ count: 0, ids: [], actors: [] });
  });

  it('a token without jti records its issuer only', () => {
    const e = viewedEntry(
      { principal: 'alice@contoso.com', via: 'token', token: { iss: 'https://idp' } },
      seen(),
      {},
      { count: 0, ids: [], actors: new Map() },
    );
    expect(e.token).toEqual({ iss: 'https://idp' });
    expect('jti' in e.token!).toBe(false);
  });
});

describe('deniedEntry', () => {
  it('records the denial and the facts present, no private activities', () => {
    const e = deniedEntry(ACTOR, seen(), { code: 'reveal_forbidden', message: 'No permission.' }, { reason: 'Incident 4711' });
    expect(e).toMatchObject({
      action: 'private-activities.denied',
      denial: { code: 'reveal_forbidden', message: 'No permission.' },
      reason: 'Incident 4711',
      token: ACTOR.token,
    });
    for (const k of ['privateActivities', 'scope', 'revealRequest', 'target']) expect(k in e, k).toBe(false);
  });
});

describe('changeEntry', () => {
  it('an admin change: actor, request, target and only the extra given', () => {
    const e = changeEntry('reveal-permission.granted', { principal: 'alice@contoso.com', via: 'admin-api' }, seen(), 'dave@contoso.com', {
      permission: { expiresAt: '2026-12-01T00:00:00.000Z' },
    });
    expect(e).toEqual({
      action: 'reveal-permission.granted',
      principal: 'alice@contoso.com',
      via: 'admin-api',
      request: requestInfo(seen()),
      target: 'dave@contoso.com',
      permission: { expiresAt: '2026-12-01T00:00:00.000Z' },
    });
    const bare = changeEntry('privacy-group.removed', { principal: 'alice@contoso.com', via: 'console' }, seen(), 'hr');
    expect(Object.keys(bare).sort()).toEqual(['action', 'principal', 'request', 'target', 'via']);
  });

  it('never carries a token, even when the actor has one', () => {
    const e = changeEntry('privacy-group.added', ACTOR, seen(), 'hr');
    expect('token' in e).toBe(false);
  });
});

describe('actors in the chained entry (SPEC §6 v3)', () => {
  it('at most 1000 actors, actorsTruncated says whether more were shown; absent when not given', async () => {
    const { buildEntry, GENESIS } = await import('../../../src/governance/chain.js');
    const actors = Array.from({ length: 1001 }, (_, i) => ({ principal: `p${i}@contoso.com`, count: 1 }));
    const e = buildEntry(
      { action: 'private-activities.viewed', principal: 'a@contoso.com', privateActivities: { count: 1001, ids: [], actors } },
      { seq: 1, prevHash: GENESIS, instance: 't' },
    );
    expect(e.privateActivities!.actors).toHaveLength(1000);
    expect(e.privateActivities!.actorsTruncated).toBe(true);
    const two = buildEntry(
      { action: 'private-activities.viewed', principal: 'a@contoso.com', privateActivities: { count: 1, ids: ['x'], actors: actors.slice(0, 1) } },
      { seq: 1, prevHash: GENESIS, instance: 't' },
    );
    expect(two.privateActivities).toEqual({
      count: 1,
      ids: ['x'],
      idsTruncated: false,
      actors: [{ principal: 'p0@contoso.com', count: 1 }],
      actorsTruncated: false,
    });
    const old = buildEntry(
      { action: 'private-activities.viewed', principal: 'a@contoso.com', privateActivities: { count: 0, ids: [] } },
      { seq: 1, prevHash: GENESIS, instance: 't' },
    );
    expect(old.privateActivities).toEqual({ count: 0, ids: [], idsTruncated: false });
  });
});
