import type http from 'node:http';

/** Hop-by-hop headers (RFC 9110 §7.6.1) never copied between connections. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
]);

/** Upstream headers that are wrong once the body was rewritten. */
const DROP_ON_FILTERED = new Set([
  'content-length',
  'content-encoding',
  'etag',
  'content-md5',
  'digest',
  'repr-digest',
  'content-digest',
  'accept-ranges',
  'content-range',
  'last-modified',
]);

/** Request headers that ask for partial or conditional answers the gateway cannot honour after filtering. */
export const CONDITIONAL_REQUEST_HEADERS = ['range', 'if-range', 'if-none-match', 'if-modified-since'];

/** Headers some frameworks treat as a method override: a GET could become a DELETE upstream. */
export const METHOD_OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override'];

/** Copies upstream response headers for a rewritten body. */
export function filteredResponseHeaders(upstream: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || HOP_BY_HOP.has(name) || DROP_ON_FILTERED.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** Copies upstream response headers unchanged except hop-by-hop ones. */
export function passthroughResponseHeaders(upstream: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** Restricts Accept-Encoding to what the gateway can decode (identity when nothing is left). */
export function decodableAcceptEncoding(value: string | undefined): string {
  if (!value) return 'identity';
  const ok = value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => {
      const [coding, ...params] = p.split(';').map((x) => x.trim().toLowerCase());
      const q = params.find((x) => x.startsWith('q='));
      if (q && Number(q.slice(2)) === 0) return false;
      return coding === 'gzip' || coding === 'deflate' || coding === 'br' || coding === 'identity';
    });
  return ok.length ? ok.join(', ') : 'identity';
}

export function appendVary(res: http.ServerResponse, names: string[]): void {
  const existing = res.getHeader('vary');
  const list = new Set<string>(
    (Array.isArray(existing) ? existing.join(',') : String(existing ?? ''))
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  for (const n of names) list.add(n);
  res.setHeader('vary', [...list].join(', '));
}

/** The console's CSRF token header (SPEC §13): the gateway's own, never sent upstream. */
export const CSRF_HEADER = 'x-csrf-token';
