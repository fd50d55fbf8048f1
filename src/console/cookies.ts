/** Cookie header parsing and Set-Cookie building for the console (RFC 6265). Pure. */

export const SESSION_COOKIE = 'apg_session';
export const LOGIN_COOKIE = 'apg_login';

/** Every value sent under `name` (a browser sends one per matching path, so there may be several). */
export function cookieValues(header: string | string[] | undefined, name: string): string[] {
  const raw = Array.isArray(header) ? header.join('; ') : (header ?? '');
  const out: string[] = [];
  for (const part of raw.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    let v = part.slice(eq + 1).trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    out.push(v);
  }
  return out;
}

export interface CookieOptions {
  path: string;
  secure: boolean;
  sameSite: 'Strict' | 'Lax';
  /** seconds; 0 deletes the cookie */
  maxAge: number;
}

export function setCookie(name: string, value: string, o: CookieOptions): string {
  return [
    `${name}=${value}`,
    `Path=${o.path}`,
    `Max-Age=${o.maxAge}`,
    ...(o.maxAge === 0 ? ['Expires=Thu, 01 Jan 1970 00:00:00 GMT'] : []),
    'HttpOnly',
    `SameSite=${o.sameSite}`,
    ...(o.secure ? ['Secure'] : []),
  ].join('; ');
}
