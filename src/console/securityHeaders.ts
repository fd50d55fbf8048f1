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

const HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

export function setSecurityHeaders(res: http.ServerResponse): void {
  for (const [k, v] of Object.entries(HEADERS)) res.setHeader(k, v);
}

/** A writeHead headers argument with the console's headers in place of any of the same name (an upstream's, relayed). */
function overriding(headers: unknown): unknown {
  if (Array.isArray(headers)) {
    const kept: unknown[] = [];
    for (let i = 0; i + 1 < headers.length; i += 2) if (!(String(headers[i]).toLowerCase() in HEADERS)) kept.push(headers[i], headers[i + 1]);
    return [...kept, ...Object.entries(HEADERS).flat()];
  }
  if (typeof headers !== 'object' || headers === null) return headers;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(headers)) if (!(k.toLowerCase() in HEADERS)) out[k] = v;
  return { ...out, ...HEADERS };
}

/**
 * Every answer on this response carries the console's headers, whoever writes it: the
 * console's pages, the one error mapping (which resets headers before it answers) and the
 * proxy journey answering the activity log.
 */
export function keepSecurityHeaders(res: http.ServerResponse): void {
  setSecurityHeaders(res);
  const writeHead = res.writeHead;
  res.writeHead = function (this: http.ServerResponse, ...args: unknown[]) {
    setSecurityHeaders(this);
    return writeHead.apply(this, args.map((a, i) => (i > 0 ? overriding(a) : a)) as Parameters<typeof writeHead>);
  };
}
