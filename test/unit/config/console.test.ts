import { describe, expect, test } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';

const parse = (consoleSection: unknown) => parseConfig(JSON.stringify({ upstream: { url: 'http://127.0.0.1:1' }, console: consoleSection }), {});
const problems = (consoleSection: unknown) => {
  const r = parse(consoleSection);
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
};

describe('config: console (SPEC §13)', () => {
  test('defaults: no console; with one, a public client, the standard scopes, 480 minutes', () => {
    const none = parseConfig(JSON.stringify({ upstream: { url: 'http://127.0.0.1:1' } }), {});
    expect(none.ok && none.config.console).toBeNull();
    const r = parse({ oidc: { issuer: 'https://login.example.com/tenant/v2.0', clientId: 'apg-console' } });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.config.console).toEqual({
      oidc: { issuer: 'https://login.example.com/tenant/v2.0', clientId: 'apg-console', clientSecret: null, scopes: ['openid', 'profile', 'email'] },
      sessionTtlMin: 480,
      publicUrl: null,
      revealWindowMin: 10,
      filters: { user: null, since: null, until: null },
    });
  });

  test('each mistake is reported with its key path', () => {
    expect(problems({ oidc: { issuer: 'http://idp.example.com/', clientId: 'c' } })).toEqual([
      'console.oidc.issuer: must be https (http only on a loopback host)',
    ]);
    expect(problems({ oidc: { issuer: 'http://127.0.0.1:8082', clientId: 'c' } })).toEqual([]);
    expect(problems({ oidc: { issuer: 'https://idp/', clientId: 'c', scopes: ['profile'] } })).toEqual(['console.oidc.scopes: must include openid']);
    expect(problems({ oidc: { issuer: 'https://idp/', clientId: '' } })[0]).toMatch(/^console\.oidc\.clientId:/);
    expect(problems({ oidc: { issuer: 'https://idp/', clientId: 'c' }, sessionTtlMin: 0 })[0]).toMatch(/^console\.sessionTtlMin: must be >= 1/);
    expect(problems({ oidc: { issuer: 'https://idp/', clientId: 'c' }, publicUrl: 'https://gw.example/base' })[0]).toMatch(
      /^console\.publicUrl: must be an origin only/,
    );
    expect(problems({ oidc: { issuer: 'https://idp/', clientId: 'c' }, cookie: 'x' })[0]).toBe('console.cookie: unknown key');
    expect(problems({ oidc: { issuer: 'https://idp/', clientId: 'c', redirect: 'x' } })[0]).toBe('console.oidc.redirect: unknown key');
  });
});
