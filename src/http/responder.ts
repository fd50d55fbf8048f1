/**
 * The one responder of the gateway's own answers (the admin API, the console's pages and
 * files): JSON, small HTML pages, static files, redirects and empty answers. Errors are
 * not answered here: they are thrown and end in `fail` (fail.ts → errors.ts), the one
 * mapping from a thrown value to an answer. Every answer here is `no-store` unless it is
 * an immutable static file, and a HEAD gets the headers without the body.
 */
import type http from 'node:http';

export type ExtraHeaders = Record<string, string | string[]>;

function send(res: http.ServerResponse, status: number, type: string, body: Buffer, headers: ExtraHeaders, cache = 'no-store'): void {
  res.statusCode = status;
  res.setHeader('content-type', type);
  res.setHeader('cache-control', cache);
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('content-length', body.length);
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: ExtraHeaders = {}): void {
  send(res, status, 'application/json; charset=utf-8', Buffer.from(JSON.stringify(body)), headers);
}

export function sendText(res: http.ServerResponse, status: number, type: string, body: string | Buffer, headers: ExtraHeaders = {}): void {
  send(res, status, type, typeof body === 'string' ? Buffer.from(body) : body, headers);
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface Page {
  title: string;
  lines: string[];
  /** a stylesheet of the gateway's own origin (the console's CSP allows no inline style) */
  stylesheet: string;
  /** links under the text: [label, href] */
  links: Array<[string, string]>;
}

/** A small server-rendered page without script; every value is escaped. */
export function sendPage(res: http.ServerResponse, status: number, page: Page, headers: ExtraHeaders = {}): void {
  const links = page.links.map(([label, href]) => `<a href="${escapeHtml(href)}">${escapeHtml(label)}</a>`).join(' · ');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title)} · Activity Privacy Gateway</title><link rel="stylesheet" href="${escapeHtml(page.stylesheet)}"></head>
<body><main><h1>${escapeHtml(page.title)}</h1>
${page.lines.map((l) => `<p>${escapeHtml(l)}</p>`).join('\n')}
<p>${links}</p>
</main></body></html>
`;
  send(res, status, 'text/html; charset=utf-8', Buffer.from(html), headers);
}

export function sendFile(res: http.ServerResponse, file: { body: Buffer; type: string; immutable: boolean }): void {
  send(res, 200, file.type, file.body, {}, file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
}

export function sendRedirect(res: http.ServerResponse, status: 302 | 303 | 308, location: string, headers: ExtraHeaders = {}): void {
  res.statusCode = status;
  res.setHeader('location', location);
  res.setHeader('cache-control', 'no-store');
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.end();
}

export function sendEmpty(res: http.ServerResponse, status = 204, headers: ExtraHeaders = {}): void {
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.end();
}
