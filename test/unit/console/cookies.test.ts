import { describe, expect, test } from 'vitest';
import { cookieValues, setCookie } from '../../../src/console/cookies.js';

describe('console cookies', () => {
  test('every value under the name is found, others ignored, quotes removed', () => {
    expect(cookieValues('a=1; apg_session=x; b=2; apg_session="y"', 'apg_session')).toEqual(['x', 'y']);
    expect(cookieValues(undefined, 'apg_session')).toEqual([]);
    expect(cookieValues('xapg_session=1; apg_sessionx=2; =3; apg_session', 'apg_session')).toEqual([]);
    expect(cookieValues(['apg_session=a', 'c=d'], 'apg_session')).toEqual(['a']);
  });

  test('Set-Cookie: HttpOnly always, Secure only when asked, deletion expires it', () => {
    expect(setCookie('apg_session', 'v', { path: '/_gateway', secure: false, sameSite: 'Strict', maxAge: 60 })).toBe(
      'apg_session=v; Path=/_gateway; Max-Age=60; HttpOnly; SameSite=Strict',
    );
    const del = setCookie('apg_session', '', { path: '/p', secure: true, sameSite: 'Strict', maxAge: 0 });
    expect(del).toContain('Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT');
    expect(del).toMatch(/; Secure$/);
  });
});
