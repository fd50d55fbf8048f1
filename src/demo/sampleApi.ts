/**
 * A fake Defender for Cloud Apps activities API on plain node:http: the demo's
 * upstream, the end-to-end tests' fixture and the benchmark's upstream.
 *
 * Fast on purpose: every record is serialised once (lazily, per format) and
 * responses are concatenations of those bytes. Exports are pull-based streams
 * (backpressure, constant memory, even for `?bytes=1e9`).
 *
 * Routes (case-insensitive, trailing slash optional):
 *   GET|POST /api/v1/activities/            list; skip/limit from the JSON body
 *                                            ({"skip","limit","filters"}), and query
 *                                            parameters override the body when present.
 *                                            limit default 100, clamped to 5000;
 *                                            body filters are accepted and ignored; the
 *                                            query parameters user, since, until filter
 *                                            (the console's User, From, To).
 *   GET /api/v1/activities/export/[csv|ndjson|json|cef]/   streamed exports (default csv);
 *                                            ?count=N records and/or ?bytes=N uncompressed
 *                                            bytes (cycling with fresh ids; with both,
 *                                            whichever is reached first ends it).
 *   GET /api/v1/activities/<id>/            one record, or 404 {"detail":"Not found."}
 *   GET /api/v1/alerts/, /api/v1/small/     small passthrough JSON
 *   *   /api/v1/echo/                        echoes method, url, headers, body (base64)
 * Any route: ?encoding=gzip|deflate|br compresses (another token is sent as
 * Content-Encoding on an uncompressed body, to test unsupported encodings);
 * ?pretty=1 indents list/item JSON; ?status=4xx|5xx answers with that status;
 * ?delayMs=N waits before answering (timeouts). Every request is recorded.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable, Transform, pipeline } from 'node:stream';
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { generateDataset, HTTP_DIRECTORY_GROUPS, liveActivity } from './dataset.js';
import { CSV_HEADER, type ExportFormat, type Line, csvLine, cefLine, jsonLine, lineBytes } from './formats.js';

export interface SampleApiOptions {
  dataset?: unknown[];
  count?: number;
  seed?: number;
  /**
   * keep producing new activities with current timestamps (the demo): `perSecond` of
   * them, deterministic per `seed`, newest first in front of the dataset. Pull-based:
   * the ones due by `now()` are added when a request arrives (no timer).
   */
  live?: { perSecond: number; seed?: number; now?: () => number };
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface SampleApi {
  server: http.Server;
  url: string;
  dataset: unknown[];
  requests: RecordedRequest[];
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 5000;
export const MAX_RECORDED = 1000;
const MAX_BODY = 64 * 1024 * 1024;
const MAX_DELAY_MS = 120_000;
const CHUNK = 64 * 1024;
const LAST_MODIFIED = 'Sun, 01 Nov 2026 00:00:00 GMT';

const ALERTS = Buffer.from(
  JSON.stringify({
    data: [
      { _id: '69a3f1c2e4b0a1b2c3d4e5f6', title: 'Impossible travel activity', severity: 'HIGH', status: 'OPEN', timestamp: 1772000000000 },
      { _id: '69a3f1c2e4b0a1b2c3d4e5f7', title: 'Mass download by a single user', severity: 'MEDIUM', status: 'RESOLVED', timestamp: 1772100000000 },
    ],
    hasNext: false,
    total: 2,
  }),
);
const SMALL = Buffer.from(
  JSON.stringify({
    status: 'ok',
    service: 'sample-activity-api',
    version: '1.0.0',
    region: 'eu-west',
    items: [
      { id: 1, name: 'alpha' },
      { id: 2, name: 'beta' },
    ],
    note: 'Benchmark passthrough payload, about two hundred bytes.',
  }),
);

const compressOpts = { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } };
const compressors: Record<string, (b: Buffer) => Promise<Buffer>> = {
  gzip: promisify(zlib.gzip),
  deflate: promisify(zlib.deflate),
  br: (b) => promisify(zlib.brotliCompress)(b, compressOpts),
};
function compressStream(encoding: string): Transform | undefined {
  if (encoding === 'gzip') return zlib.createGzip();
  if (encoding === 'deflate') return zlib.createDeflate();
  if (encoding === 'br') return zlib.createBrotliCompress(compressOpts);
  return undefined;
}

/** Per-format record serialisations, built on first use. */
class Serialised {
  private cache = new Map<string, Line[]>();
  readonly byId = new Map<string, number>();
  constructor(private readonly dataset: unknown[]) {
    dataset.forEach((rec, i) => {
      const id = (rec as { _id?: unknown } | null)?._id;
      if (typeof id === 'string' && !this.byId.has(id)) this.byId.set(id, i);
    });
  }
  lines(kind: 'json' | 'ndjson' | 'csv' | 'cef'): Line[] {
    let ls = this.cache.get(kind);
    if (!ls) {
      ls = this.dataset.map((rec, i) =>
        kind === 'json' ? jsonLine(rec) : kind === 'ndjson' ? jsonLine(rec, '\n') : kind === 'csv' ? csvLine(rec) : cefLine(rec, i % 10 === 3),
      );
      this.cache.set(kind, ls);
    }
    return ls;
  }
}

interface Query {
  get(name: string): string | null;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(detail);
  }
}

function intParam(raw: unknown, name: string): number | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new HttpError(400, `Invalid ${name}.`);
  return n;
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, 'Request body too large.'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function createSampleApi(opts: SampleApiOptions = {}): SampleApi {
  const dataset: unknown[] = opts.dataset ?? generateDataset({ count: opts.count, seed: opts.seed });
  let ser = new Serialised(dataset);
  const live = opts.live && { ...opts.live, now: opts.live.now ?? Date.now, seed: opts.live.seed ?? opts.seed ?? 1, produced: 0, startMs: 0 };
  if (live) live.startMs = live.now();
  /** Adds the live activities due by now (newest first, in front of the dataset). */
  function catchUp(): void {
    if (!live) return;
    const due = Math.floor(((live.now() - live.startMs) * live.perSecond) / 1000);
    if (due <= live.produced) return;
    const fresh: unknown[] = [];
    for (let i = live.produced; i < due; i++) fresh.push(liveActivity(live.seed, i, live.startMs, live.perSecond));
    live.produced = due;
    dataset.unshift(...fresh.reverse());
    ser = new Serialised(dataset);
  }
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let url = '';

  async function send(res: http.ServerResponse, status: number, type: string, body: Buffer, q: Query, extra: http.OutgoingHttpHeaders = {}): Promise<void> {
    const encoding = q.get('encoding') ?? 'identity';
    let out = body;
    const headers: http.OutgoingHttpHeaders = { 'content-type': type, ...extra };
    if (encoding !== 'identity') {
      if (!/^[a-z0-9-]+$/i.test(encoding)) throw new HttpError(400, 'Invalid encoding.');
      const compress = compressors[encoding];
      if (compress) out = await compress(body);
      headers['content-encoding'] = encoding;
      headers['vary'] = 'Accept-Encoding';
    }
    headers['content-length'] = out.length;
    res.writeHead(status, headers);
    res.end(out);
  }

  const json = (res: http.ServerResponse, status: number, value: unknown, q: Query, extra?: http.OutgoingHttpHeaders) =>
    send(res, status, 'application/json', Buffer.from(JSON.stringify(value)), q, extra);

  /**
   * The list's query filters (the console's User, From, To): `user` (the user's or the failed
   * logon's userName, case-insensitive), `since` (inclusive) and `until` (exclusive), each an
   * ISO-8601 time or epoch milliseconds. Null when none is given: the whole dataset.
   */
  function filtered(q: Query): number[] | null {
    const user = q.get('user')?.trim().toLowerCase() || undefined;
    const time = (name: string) => {
      const v = q.get(name)?.trim();
      if (!v) return undefined;
      const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
      if (Number.isNaN(t)) throw new HttpError(400, `Invalid ${name}: expected an ISO-8601 time or epoch milliseconds.`);
      return t;
    };
    const since = time('since');
    const until = time('until');
    if (user === undefined && since === undefined && until === undefined) return null;
    const out: number[] = [];
    dataset.forEach((r, i) => {
      const rec = r as { timestamp?: unknown; user?: { userName?: unknown }; failedUserData?: { userName?: unknown } };
      if (user !== undefined) {
        const name = rec.user?.userName ?? rec.failedUserData?.userName;
        if (typeof name !== 'string' || name.toLowerCase() !== user) return;
      }
      const t = typeof rec.timestamp === 'number' ? rec.timestamp : typeof rec.timestamp === 'string' ? Date.parse(rec.timestamp) : NaN;
      if (since !== undefined && !(t >= since)) return;
      if (until !== undefined && !(t < until)) return;
      out.push(i);
    });
    return out;
  }

  function list(method: string, q: Query, body: Buffer): Buffer {
    let b: Record<string, unknown> = {};
    if (method === 'POST' && body.length > 0) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        throw new HttpError(400, 'JSON parse error.');
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new HttpError(400, 'Expected a JSON object.');
      b = parsed as Record<string, unknown>;
    }
    const skip = intParam(q.get('skip'), 'skip') ?? intParam(b.skip, 'skip') ?? 0;
    const limit = Math.min(intParam(q.get('limit'), 'limit') ?? intParam(b.limit, 'limit') ?? DEFAULT_LIMIT, MAX_LIMIT);
    const picked = filtered(q);
    const total = picked ? picked.length : dataset.length;
    const end = Math.min(skip + limit, total);
    const at = (i: number) => (picked ? picked[i] : i);
    const tail = `],"hasNext":${end < total},"total":${total},"max":100,"moreThanTotal":false}`;
    if (q.get('pretty') === '1') {
      const data = [];
      for (let i = skip; i < end; i++) data.push(dataset[at(i)]);
      const env = { data, hasNext: end < total, total, max: 100, moreThanTotal: false };
      return Buffer.from(JSON.stringify(env, null, 2));
    }
    const lines = ser.lines('json');
    const parts: Buffer[] = [Buffer.from('{"data":[')];
    const comma = Buffer.from(',');
    for (let i = skip; i < end; i++) {
      if (i > skip) parts.push(comma);
      parts.push(lines[at(i)].buf);
    }
    parts.push(Buffer.from(tail));
    return Buffer.concat(parts);
  }

  function exportStream(format: ExportFormat, q: Query): Readable {
    const count = intParam(q.get('count'), 'count');
    const bytes = intParam(q.get('bytes'), 'bytes');
    const lines = ser.lines(format === 'json' ? 'json' : format);
    const limitCount = count ?? (bytes === undefined ? lines.length : Infinity);
    const limitBytes = bytes ?? Infinity;
    function* gen(): Generator<Buffer> {
      let batch: Buffer[] = [];
      let batchSize = 0;
      let written = 0;
      let emitted = 0;
      const push = (b: Buffer) => {
        batch.push(b);
        batchSize += b.length;
        written += b.length;
      };
      const flush = () => {
        const out = Buffer.concat(batch, batchSize);
        batch = [];
        batchSize = 0;
        return out;
      };
      if (format === 'csv') push(Buffer.from(CSV_HEADER));
      if (format === 'json') push(Buffer.from('{"data":['));
      const comma = Buffer.from(',');
      for (let cycle = 0; lines.length > 0 && emitted < limitCount && written < limitBytes; cycle++) {
        for (let i = 0; i < lines.length && emitted < limitCount && written < limitBytes; i++) {
          if (format === 'json' && emitted > 0) push(comma);
          for (const part of lineBytes(lines[i], format, cycle)) push(part);
          emitted++;
          if (batchSize >= CHUNK) yield flush();
        }
      }
      if (format === 'json') push(Buffer.from(`],"total":${emitted}}`));
      if (batchSize > 0) yield flush();
    }
    return Readable.from(gen(), { objectMode: false });
  }

  const EXPORT_TYPES: Record<ExportFormat, string> = {
    ndjson: 'application/x-ndjson',
    json: 'application/json',
    csv: 'text/csv; charset=utf-8',
    cef: 'text/plain; charset=utf-8',
  };

  function streamExport(req: http.IncomingMessage, res: http.ServerResponse, format: ExportFormat, q: Query): void {
    const encoding = q.get('encoding') ?? 'identity';
    if (encoding !== 'identity' && !/^[a-z0-9-]+$/i.test(encoding)) throw new HttpError(400, 'Invalid encoding.');
    const source = exportStream(format, q); // validates count/bytes before headers go out
    const headers: http.OutgoingHttpHeaders = { 'content-type': EXPORT_TYPES[format] };
    if (encoding !== 'identity') headers['content-encoding'] = encoding;
    res.writeHead(200, headers);
    if (req.method === 'HEAD') {
      source.destroy();
      res.end();
      return;
    }
    const gz = compressStream(encoding);
    const done = (err?: Error | null) => {
      if (err) res.destroy(); // a broken export is cut off, never completed
    };
    if (gz) pipeline(source, gz, res, done);
    else pipeline(source, res, done);
  }

  async function route(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): Promise<void> {
    const method = req.method ?? 'GET';
    const raw = req.url ?? '/';
    const qAt = raw.indexOf('?');
    const path = qAt < 0 ? raw : raw.slice(0, qAt);
    const q: Query = new URLSearchParams(qAt < 0 ? '' : raw.slice(qAt + 1));

    // Test knobs are read leniently: a real API parameter of the same name (alerts' ?status=OPEN) must not break.
    const knob = (name: string) => (/^\d{1,9}$/.test(q.get(name) ?? '') ? Number(q.get(name)) : undefined);
    const delay = knob('delayMs');
    if (delay)
      await new Promise<void>((r) => {
        const t = setTimeout(
          () => {
            timers.delete(t);
            r();
          },
          Math.min(delay, MAX_DELAY_MS),
        );
        timers.add(t);
      });
    const status = knob('status');
    if (status !== undefined && status >= 400 && status <= 599) return json(res, status, { detail: 'Simulated upstream error.' }, q);

    const readOnly = method === 'GET' || method === 'HEAD';
    const notAllowed = () => json(res, 405, { detail: `Method "${method}" not allowed.` }, q, { allow: readOnly ? 'GET, HEAD' : 'GET, HEAD, POST' });
    let m: RegExpExecArray | null;

    if (/^\/api\/v1\/activities\/?$/i.test(path)) {
      if (!readOnly && method !== 'POST') return notAllowed();
      const page = list(method, q, body);
      const f = ['user', 'since', 'until'].map((n) => encodeURIComponent(q.get(n) ?? '')).join('-');
      const etag = `W/"activities-${dataset.length}-${q.get('skip') ?? ''}-${q.get('limit') ?? ''}-${f}"`;
      return send(res, 200, 'application/json', page, q, { etag, 'last-modified': LAST_MODIFIED });
    }
    if ((m = /^\/api\/v1\/activities\/export(?:\/(ndjson|json|csv|cef))?\/?$/i.exec(path))) {
      if (!readOnly) return notAllowed();
      return streamExport(req, res, (m[1]?.toLowerCase() ?? 'csv') as ExportFormat, q);
    }
    if ((m = /^\/api\/v1\/activities\/([^/]+)\/?$/i.exec(path))) {
      if (!readOnly) return notAllowed();
      let id: string;
      try {
        id = decodeURIComponent(m[1]);
      } catch {
        return json(res, 404, { detail: 'Not found.' }, q);
      }
      const i = ser.byId.get(id);
      if (i === undefined) return json(res, 404, { detail: 'Not found.' }, q);
      const item = q.get('pretty') === '1' ? Buffer.from(JSON.stringify(dataset[i], null, 2)) : ser.lines('json')[i].buf;
      return send(res, 200, 'application/json', item, q, { etag: `"${id}"`, 'last-modified': LAST_MODIFIED });
    }
    // the demo's HTTP directory (directory.http of config/demo.yaml): the catalogue and each user's groups
    if (path === '/directory/groups')
      return json(
        res,
        200,
        HTTP_DIRECTORY_GROUPS.map((g) => ({ id: g.id, name: g.name })),
        q,
      );
    if ((m = /^\/directory\/users\/([^/]+)\/groups$/.exec(path))) {
      const who = decodeURIComponent(m[1]).toLowerCase();
      const groups = HTTP_DIRECTORY_GROUPS.filter((g) => g.members.includes(who)).map((g) => g.id);
      return groups.length > 0 ? json(res, 200, groups, q) : json(res, 404, { detail: 'No such user.' }, q);
    }
    if (/^\/api\/v1\/alerts\/?$/i.test(path)) return send(res, 200, 'application/json', ALERTS, q);
    if (/^\/api\/v1\/small\/?$/i.test(path)) return send(res, 200, 'application/json', SMALL, q);
    if (/^\/api\/v1\/echo\/?$/i.test(path)) {
      return json(res, 200, { method, url: raw, headers: req.headers, body: body.toString('base64') }, q);
    }
    return json(res, 404, { detail: 'Not found.' }, q);
  }

  const server = http.createServer((req, res) => {
    readBody(req)
      .then((body) => {
        requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        if (requests.length > MAX_RECORDED) requests.splice(0, requests.length - MAX_RECORDED);
        catchUp();
        return route(req, res, body);
      })
      .catch((err: unknown) => {
        if (res.headersSent) return void res.destroy();
        const status = err instanceof HttpError ? err.status : 500;
        const detail = err instanceof HttpError ? err.detail : 'Internal error.';
        const buf = Buffer.from(JSON.stringify({ detail }));
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': buf.length });
        res.end(buf);
      });
  });

  return {
    server,
    get url() {
      return url;
    },
    set url(v: string) {
      url = v;
    },
    dataset,
    requests,
    listen(port = 0, host = '127.0.0.1') {
      return new Promise<string>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const addr = server.address() as AddressInfo;
          const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
          url = `http://${h}:${addr.port}`;
          resolve(url);
        });
      });
    },
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      return new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
