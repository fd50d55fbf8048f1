import { describe, expect, test } from 'vitest';
import { consoleListRoute } from '../../../src/console/info.js';
import { isStateChanging } from '../../../src/console/session.js';
import { validConfig } from '../../helpers/gateway.js';

const config = (routes: unknown[], adminPrefix = '/_gateway') => validConfig({ server: { adminPrefix }, upstream: { url: 'http://127.0.0.1:1' }, routes });

describe('console helpers', () => {
  test('the activity log uses the first GET list route without path parameters, never one under the admin prefix', () => {
    expect(consoleListRoute(config([{ path: '/api/v1/activities/', methods: ['GET', 'POST'], kind: 'list', items: 'data', total: 'total' }]))).toEqual({
      path: '/api/v1/activities/',
      items: 'data',
      total: 'total',
    });
    expect(
      consoleListRoute(
        config([
          { path: '/post-only/', methods: ['POST'], kind: 'list' },
          { path: '/_GATEWAY/x/', kind: 'list' },
          { path: '/tenants/:t/activities/', kind: 'list' },
          { path: '/any/**', kind: 'list' },
          { path: '/all-methods/', kind: 'list', items: '' },
        ]),
      ),
    ).toEqual({ path: '/all-methods/', items: '', total: null });
    expect(consoleListRoute(config([{ path: '/**', kind: 'deny' }]))).toBeNull();
  });

  test('state-changing methods need the CSRF token; safe ones do not', () => {
    for (const m of ['POST', 'PUT', 'PATCH', 'DELETE', 'post', 'PROPFIND']) expect(isStateChanging(m), m).toBe(true);
    for (const m of ['GET', 'HEAD', 'OPTIONS', 'get', undefined]) expect(isStateChanging(m), String(m)).toBe(false);
  });
});
