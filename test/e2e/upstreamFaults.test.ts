import http from 'node:http';
import net from 'node:net';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { demoLikeConfig, get, startTestGateway, tempDir } from '../helpers/gateway.js';

const PRIVATE = { _id: 'p1', timestamp: Date.parse('2026-07-01T00:00:00Z'), user: { userName: 'bob@contoso.com' } };
const PUBLIC = { _id: 'k1', timestamp: Date.parse('2026-07-01T00:00:00Z'), user: { userName: 'ivan@contoso.com' } };
const PAGE = Buffer.from(JSON.stringify({ data: [PUBLIC, PRIVATE, PUBLIC], total: 3 }));

type Behaviour = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A fake upstream whose behaviour each test picks by path: /api/v1/activities/?case=NAME */
describe('every upstream fault fails closed (502/504), nothing private sent', () => {
  let upstream: http.Server;
  let gw: Gateway;
  let cleanup: () => Promise<void>;
  const cases = new Map<string, Behaviour>();
  const sockets = new Set<net.Socket>();

  beforeAll(async () => {
    upstream = http.createServer((req, res) => {
      const name = new URL(req.url!, 'http://x').searchParams.get('case') ?? 'ok';
      (cases.get(name) ?? ((_q, s) => s.end()))(req, res);
    });
    upstream.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as net.AddressInfo).port;
    const t = await tempDir();
    cleanup = t.cleanup;
    gw = await startTestGateway(
      demoLikeConfig(`http://127.0.0.1:${port}`, t.dir, { upstream: { url: `http://127.0.0.1:${port}`, timeoutMs: 800, maxBufferedBytes: 64 * 1024 } }),
    );
  });
  afterAll(async () => {
    await gw?.close(500);
    for (const s of sockets) s.destroy();
    await new Promise((r) => upstream.close(r));
    await cleanup?.();
  });

  const json = (res: http.ServerResponse, body: Buffer, headers: Record<string, string> = {}) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length), ...headers });
    res.end(body);
  };

  async function expectError(name: string, behaviour: Behaviour, status: number, code: string) {
    cases.set(name, behaviour);
    const r = await get(`${gw.url}/api/v1/activities/?case=${name}`);
    expect(r.status, name).toBe(status);
    expect(r.json().error.code, name).toBe(code);
    expect(r.text).not.toContain('bob@contoso.com');
    expect(r.text).not.toContain('"p1"');
    return r;
  }

  it('sanity: a healthy answer is filtered', async () => {
    cases.set('ok', (_q, s) => json(s, PAGE));
    const r = await get(`${gw.url}/api/v1/activities/?case=ok`);
    expect(r.status).toBe(200);
    expect(r.json().data.map((a: any) => a._id)).toEqual(['k1', 'k1']);
    expect(r.json().total).toBe(2);
  });

  it('upstream down → 502 upstream_unavailable', async () => {
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as net.AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const t = await tempDir();
    const g2 = await startTestGateway(demoLikeConfig(`http://127.0.0.1:${port}`, t.dir));
    try {
      const r = await get(`${g2.url}/api/v1/activities/`);
      expect(r.status).toBe(502);
      expect(r.json().error.code).toBe('upstream_unavailable');
      const p = await get(`${g2.url}/api/v1/alerts/`);
      expect(p.status).toBe(502);
    } finally {
      await g2.close(200);
      await t.cleanup();
    }
  });

  it('no answer in time → 504 upstream_timeout', async () => {
    await expectError(
      'silent',
      () => {
        /* never answers */
      },
      504,
      'upstream_timeout',
    );
  });

  it('headers then a stalled body → 504', async () => {
    await expectError(
      'stall',
      (_q, s) => {
        s.writeHead(200, { 'content-type': 'application/json' });
        s.write(PAGE.subarray(0, 20));
      },
      504,
      'upstream_timeout',
    );
  });

  it('connection reset mid-body → 502', async () => {
    await expectError(
      'reset',
      (_q, s) => {
        s.writeHead(200, { 'content-type': 'application/json', 'content-length': String(PAGE.length) });
        s.write(PAGE.subarray(0, PAGE.length - 10));
        setTimeout(() => s.socket?.destroy(), 20);
      },
      502,
      'upstream_unavailable',
    );
  });

  it('malformed JSON → 502 upstream_body_invalid', async () => {
    await expectError('malformed', (_q, s) => json(s, Buffer.from(PAGE.toString().slice(0, -2))), 502, 'upstream_body_invalid');
    await expectError('trailing', (_q, s) => json(s, Buffer.from(PAGE.toString() + 'x')), 502, 'upstream_body_invalid');
    await expectError('nodata', (_q, s) => json(s, Buffer.from('{"items":[]}')), 502, 'upstream_body_invalid');
    await expectError('notarray', (_q, s) => json(s, Buffer.from('{"data":{"0":1}}')), 502, 'upstream_body_invalid');
  });

  it('wrong content type → 502', async () => {
    await expectError(
      'html',
      (_q, s) => {
        s.writeHead(200, { 'content-type': 'text/html' });
        s.end(PAGE);
      },
      502,
      'upstream_body_invalid',
    );
    await expectError(
      'nocontenttype',
      (_q, s) => {
        s.writeHead(200);
        s.end(PAGE);
      },
      502,
      'upstream_body_invalid',
    );
  });

  it('oversized body (declared and chunked) → 502 upstream_body_too_large', async () => {
    const big = Buffer.from(JSON.stringify({ data: Array.from({ length: 2000 }, () => PRIVATE), total: 2000 }));
    await expectError('big', (_q, s) => json(s, big), 502, 'upstream_body_too_large');
    await expectError(
      'bigchunked',
      (_q, s) => {
        s.writeHead(200, { 'content-type': 'application/json' });
        s.end(big);
      },
      502,
      'upstream_body_too_large',
    );
  });

  it('compression bomb → 502 upstream_body_too_large', async () => {
    const bomb = zlib.gzipSync(Buffer.concat([Buffer.from('{"data":["'), Buffer.alloc(5 * 1024 * 1024, 0x61), Buffer.from('"]}')]));
    expect(bomb.length).toBeLessThan(64 * 1024);
    await expectError('bomb', (_q, s) => json(s, bomb, { 'content-encoding': 'gzip' }), 502, 'upstream_body_too_large');
  });

  it('unknown or corrupt encoding → 502', async () => {
    await expectError('zstd', (_q, s) => json(s, PAGE, { 'content-encoding': 'zstd' }), 502, 'upstream_body_invalid');
    await expectError('corrupt', (_q, s) => json(s, Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' }), 502, 'upstream_body_invalid');
    await expectError('double', (_q, s) => json(s, zlib.gzipSync(zlib.gzipSync(PAGE)), { 'content-encoding': 'gzip, gzip' }), 502, 'upstream_body_invalid');
  });

  it('a non-2xx upstream answer passes unchanged', async () => {
    cases.set('e500', (_q, s) => {
      s.writeHead(500, { 'content-type': 'text/plain', 'x-upstream': 'yes' });
      s.end('boom');
    });
    const r = await get(`${gw.url}/api/v1/activities/?case=e500`);
    expect(r.status).toBe(500);
    expect(r.text).toBe('boom');
    expect(r.headers.get('x-upstream')).toBe('yes');
  });

  /** A raw client: what arrived, and whether the response completed. */
  const fetchRaw = (url: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; complete: boolean }>((resolve) => {
      http
        .get(url, { headers }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, complete: res.complete }));
          res.on('error', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, complete: false }));
          res.on('aborted', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, complete: false }));
        })
        .on('error', () => resolve({ status: 0, headers: {}, body: '', complete: false }));
    });

  /** ~200 KiB of public records: more than the gateway holds back before it starts answering */
  const PREFIX_COUNT = 2000;
  const publicRecord = (i: number) => ({ ...PUBLIC, _id: `k${i}` });

  it('an export broken mid-stream (after its first bytes left) is cut off, never completed; the records before the fault arrived', async () => {
    cases.set('brokenexport', (_q, s) => {
      s.writeHead(200, { 'content-type': 'application/json' });
      s.write('{"data":[' + Array.from({ length: PREFIX_COUNT }, (_, i) => JSON.stringify(publicRecord(i))).join(',') + ',');
      s.end('{"_id":"p2","timestamp":');
    });
    const r = await fetchRaw(`${gw.url}/api/v1/activities/export/json/?case=brokenexport`);
    expect(r.status).toBe(200);
    expect(r.complete).toBe(false);
    expect(r.body).not.toContain('p2');
    expect(r.body).toContain(`"k${PREFIX_COUNT - 1}"`);
  });

  it.each([
    ['json: a broken array', '/api/v1/activities/export/json/', 'application/json', `{"data":[${JSON.stringify(PUBLIC)},${JSON.stringify(PRIVATE)},]}`],
    ['json: the items path is missing', '/api/v1/activities/export/json/', 'application/json', `{"renamed":[${JSON.stringify(PRIVATE)}]}`],
    [
      'csv: an unclosed quote',
      '/api/v1/activities/export/',
      'text/csv',
      '_id,timestamp,userName\nk1,2026-07-01T00:00:00Z,ivan@contoso.com\np1,2026-07-01T00:00:00Z,"bob@contoso.com\n',
    ],
    [
      'ndjson: a first record over the size limit',
      '/api/v1/activities/export/ndjson/',
      'application/x-ndjson',
      `${JSON.stringify(PUBLIC)}\n${JSON.stringify({ ...PRIVATE, pad: 'x'.repeat(5 * 1024 * 1024) })}\n`,
    ],
  ])('an export unusable before its first byte left (%s) is the JSON 502 with X-Request-Id', async (name, path, type, body) => {
    const c = `early-${name.replace(/\W+/g, '-')}`;
    cases.set(c, (_q, s) => {
      s.writeHead(200, { 'content-type': type });
      s.end(body);
    });
    const r = await fetchRaw(`${gw.url}${path}?case=${c}`, { 'x-request-id': 'early-502' });
    expect(r.status).toBe(502);
    expect(r.complete).toBe(true);
    expect(r.headers['x-request-id']).toBe('early-502');
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(r.body).error).toMatchObject({ code: 'upstream_body_invalid', requestId: 'early-502' });
    expect(r.body).not.toContain('bob@');
    expect(r.body).not.toContain('ivan@');
  });

  it('an export whose upstream resets before the first byte left is the JSON 502; after it, a cut-off; the gateway keeps serving', async () => {
    cases.set('resetexport0', (_q, s) => {
      s.writeHead(200, { 'content-type': 'application/x-ndjson' });
      s.flushHeaders();
      setTimeout(() => s.socket?.destroy(), 30);
    });
    cases.set('resetexport1', (_q, s) => {
      s.writeHead(200, { 'content-type': 'application/x-ndjson' });
      s.write(JSON.stringify(PUBLIC) + '\n' + JSON.stringify(PRIVATE) + '\n' + '{"_id":"p3","user":{"userName":"bob@con');
      setTimeout(() => s.socket?.destroy(), 30);
    });
    cases.set('resetexport2', (_q, s) => {
      s.writeHead(200, { 'content-type': 'application/x-ndjson' });
      s.write(
        Array.from({ length: PREFIX_COUNT }, (_, i) => JSON.stringify(publicRecord(i)) + '\n').join('') +
          JSON.stringify(PRIVATE) +
          '\n' +
          '{"_id":"p3","user":{"userName":"bob@con',
      );
      setTimeout(() => s.socket?.destroy(), 30);
    });
    for (const name of ['resetexport0', 'resetexport1']) {
      const r = await fetchRaw(`${gw.url}/api/v1/activities/export/ndjson/?case=${name}`);
      expect(r.status, name).toBe(502);
      expect(JSON.parse(r.body).error.code, name).toBe('upstream_unavailable');
      expect(r.headers['x-request-id'], name).toBeTruthy();
      expect(r.body).not.toContain('bob@');
      expect(r.body).not.toContain('"p1"');
    }
    const cut = await fetchRaw(`${gw.url}/api/v1/activities/export/ndjson/?case=resetexport2`);
    expect(cut.status).toBe(200);
    expect(cut.complete).toBe(false);
    expect(cut.body).toContain(`"k${PREFIX_COUNT - 1}"`);
    expect(cut.body).not.toContain('bob@');
    expect(cut.body).not.toContain('"p1"');
    // the process is still alive and filtering
    cases.set('ok', (_q, s) => json(s, PAGE));
    const ok = await get(`${gw.url}/api/v1/activities/?case=ok`);
    expect(ok.status).toBe(200);
    expect(ok.json().data.map((a: any) => a._id)).toEqual(['k1', 'k1']);
  });

  it('a passthrough answer whose upstream dies mid-body is cut off, not left hanging', async () => {
    const port = new URL(gw.url).port;
    void port;
    cases.set('resetpass', (_q, s) => {
      s.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      s.write('{"partial":');
      setTimeout(() => s.socket?.destroy(), 30);
    });
    const r = await new Promise<{ complete: boolean }>((resolve) => {
      http
        .get(`${gw.url}/api/v1/alerts/?case=resetpass`, (res) => {
          res.resume();
          res.on('end', () => resolve({ complete: res.complete }));
          res.on('error', () => resolve({ complete: false }));
          res.on('aborted', () => resolve({ complete: false }));
        })
        .on('error', () => resolve({ complete: false }));
    });
    expect(r.complete).toBe(false);
  });
});
