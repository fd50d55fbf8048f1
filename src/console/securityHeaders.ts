import type http from 'node:http';

/**
 * Every console response carries these (SPEC §13). Scripts and styles come only from the
 * gateway's own origin (no inline script or style at all), nothing may frame the console,
 * and no URL of it leaks in a Referer.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function setSecurityHeaders(res: http.ServerResponse): void {
  res.setHeader('content-security-policy', CONSOLE_CSP);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('cross-origin-opener-policy', 'same-origin');
}

/**
 * Every answer on this response carries the console's headers, whoever writes it: the
 * console's pages, the one error mapping (which resets headers before it answers) and the
 * proxy journey answering the activity log.
 */
export function keepSecurityHeaders(res: http.ServerResponse): void {
  setSecurityHeaders(res);
  const writeHead = res.writeHead;
  res.writeHead = function (this: http.ServerResponse, ...args: Parameters<typeof writeHead>) {
    setSecurityHeaders(this);
    return writeHead.apply(this, args);
  } as typeof writeHead;
}
