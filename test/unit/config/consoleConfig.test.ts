/** Issue 24: console.revealWindowMin and console.filters (SPEC §13 v3). */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { demoLikeConfig } from '../../helpers/gateway.js';

const withConsole = (extra: Record<string, unknown>) =>
  parseConfig(
    JSON.stringify(
      demoLikeConfig('http://127.0.0.1:9', '/tmp/apg-console-config', { console: { oidc: { issuer: 'http://127.0.0.1:8082', clientId: 'c' }, ...extra } }),
    ),
    {},
  );

describe('console config', () => {
  it('defaults: a 10-minute reveal window, no filters', () => {
    const r = withConsole({});
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.config.console?.revealWindowMin).toBe(10);
    expect(r.config.console?.filters).toEqual({ user: null, since: null, until: null });
  });
  it('takes the window and the parameter names', () => {
    const r = withConsole({ revealWindowMin: 30, filters: { user: 'user', since: 'from' } });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.config.console?.revealWindowMin).toBe(30);
    expect(r.config.console?.filters).toEqual({ user: 'user', since: 'from', until: null });
  });
  it.each([
    ['revealWindowMin 0', { revealWindowMin: 0 }, 'console.revealWindowMin'],
    ['revealWindowMin above a day', { revealWindowMin: 1441 }, 'console.revealWindowMin'],
    ['a filter name empty', { filters: { user: '' } }, 'console.filters.user'],
    ['an unknown filter', { filters: { actor: 'x' } }, 'console.filters.actor'],
  ])('%s is a problem at its key', (_what, extra, key) => {
    const r = withConsole(extra);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.map((p) => p.path)).toContain(key);
  });
});
