import http from 'node:http';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  APPLICATIONS,
  DEMO_GROUPS,
  EXTERNAL_PRINCIPALS,
  PRINCIPALS,
  STATIC_DIRECTORY,
  TAG_APPLICATION,
  TAG_EXTERNAL_USERS,
  TIME_RANGE,
  type Activity,
  activityActor,
  activityTags,
  activityTime,
  generateDataset,
} from '../../../src/demo/dataset.js';
import { cefExt, cefHeader, csvField, freshId } from '../../../src/demo/formats.js';
import { createSampleApi, type SampleApi } from '../../../src/demo/sampleApi.js';

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Raw HTTP (fetch would silently decode Content-Encoding). */
function request(base: string, path: string, opts: { method?: string; headers?: http.OutgoingHttpHeaders; body?: Buffer | string } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(base + path, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Streams a response, counting bytes and newlines without keeping the body. */
function drain(base: string, path: string): Promise<{ status: number; bytes: number; newlines: number; tail: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(base + path, { agent: false }, (res) => {
        let bytes = 0;
        let newlines = 0;
        let tail = '';
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          for (let i = c.indexOf(10); i !== -1; i = c.indexOf(10, i + 1)) newlines++;
          tail = c.subarray(Math.max(0, c.length - 64)).toString('latin1');
        });
        res.on('end', () => resolve({ status: res.statusCode!, bytes, newlines, tail }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** Minimal RFC 4180 parser: quoted fields may hold commas, doubled quotes and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') {
        quoted = false;
        i++;
        continue;
      }
      field += c;
      i++;
      continue;
    }
    if (c === '"') {
      if (field !== '') throw new Error(`stray quote at ${i}`);
      quoted = true;
      i++;
      continue;
    }
    if (c === ',') {
      row.push(field);
      field = '';
      i++;
      continue;
    }
    if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i += 2;
      continue;
    }
    if (c === '\n' || c === '\r') throw new Error(`bare line break at ${i}`);
    field += c;
    i++;
  }
  if (quoted) throw new Error('unterminated quote');
  if (field !== '' || row.length) throw new Error('last row lacks CRLF');
  return rows;
}

const decoders: Record<string, (b: Buffer) => Buffer> = { gzip: zlib.gunzipSync, deflate: zlib.inflateSync, br: zlib.brotliDecompressSync };

describe('generateDataset', () => {
  const data = generateDataset();

  it('is deterministic, seeded and sized', () => {
    expect(data).toHaveLength(10_000);
    expect(JSON.stringify(generateDataset({ count: 300, seed: 7 }))).toBe(JSON.stringify(generateDataset({ count: 300, seed: 7 })));
    expect(JSON.stringify(generateDataset({ count: 300, seed: 7 }))).not.toBe(JSON.stringify(generateDataset({ count: 300, seed: 8 })));
    expect(generateDataset({ count: 0 })).toEqual([]);
  });

  it('has unique 24-hex ids, timestamps in range, newest first', () => {
    const ids = new Set(data.map((a) => a._id));
    expect(ids.size).toBe(data.length);
    expect(data.filter((a) => !/^[0-9a-f]{24}$/.test(a._id))).toEqual([]);
    const times = data.map((a) => activityTime(a)!);
    expect(times.filter((t) => !(t >= TIME_RANGE.start && t < TIME_RANGE.end))).toEqual([]);
    expect(times.filter((t, i) => i > 0 && t > times[i - 1])).toEqual([]);
  });

  it('has the record variants: failed logons, actor-less, ISO timestamps, applications, mixed case', () => {
    const failed = data.filter((a) => a.failedUserData && !a.user);
    const noActor = data.filter((a) => activityActor(a) === undefined);
    const iso = data.filter((a) => typeof a.timestamp === 'string');
    const apps = data.filter((a) => a.actorType === 'APPLICATION');
    expect(failed.length).toBeGreaterThan(30);
    expect(failed.length).toBeLessThan(300);
    expect(noActor.length).toBeGreaterThan(0);
    expect(noActor.length).toBeLessThan(60);
    expect(iso.length).toBeGreaterThan(0);
    for (const a of iso) expect(a.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/);
    for (const a of apps) expect(a.user!.userName).not.toContain('@');
    expect(apps.some((a) => a.user!.userTags.includes(TAG_APPLICATION))).toBe(true);
    expect(apps.some((a) => !a.user!.userTags.includes(TAG_APPLICATION))).toBe(true);
    expect(new Set(apps.map((a) => a.appName))).toEqual(new Set(APPLICATIONS.map((x) => x.name)));
    expect(data.some((a) => a.user && a.user.userName !== a.user.userName.toLowerCase())).toBe(true);
    expect(data.some((a) => /[äöü]/.test(a.description) && a.description.includes('"'))).toBe(true);
    expect(data.some((a) => a.description.includes('\n'))).toBe(true);
  });

  it('tags group membership as the demo conventions say', () => {
    const by = (p: string) => data.filter((a) => activityActor(a) === p);
    expect(by(PRINCIPALS.frank).length).toBeGreaterThan(100);
    expect(by(PRINCIPALS.frank).filter((a) => !activityTags(a).includes('hr'))).toEqual([]);
    expect(by(PRINCIPALS.frank).some((a) => a.failedUserData && a.resolvedActor!.tags.includes('hr'))).toBe(true);
    for (const p of [...STATIC_DIRECTORY.hr, ...STATIC_DIRECTORY.legal]) expect(by(p).filter((a) => activityTags(a).includes('hr'))).toEqual([]);
    for (const p of EXTERNAL_PRINCIPALS) {
      const tagged = by(p).filter((a) => activityTags(a).includes(TAG_EXTERNAL_USERS)).length;
      expect(tagged / by(p).length).toBeGreaterThan(0.3);
      expect(tagged / by(p).length).toBeLessThan(0.7);
    }
    const internal = data.filter((a) => {
      const p = activityActor(a);
      return p !== undefined && !EXTERNAL_PRINCIPALS.includes(p);
    });
    expect(internal.filter((a) => activityTags(a).includes(TAG_EXTERNAL_USERS))).toEqual([]);
  });

  // before / inside / after each group's interval, per member principal
  const buckets = (ds: Activity[]) => {
    const counts = new Map<string, number>();
    const members: Record<string, string[]> = {
      hr: [PRINCIPALS.bob, PRINCIPALS.carol, PRINCIPALS.frank],
      legal: [PRINCIPALS.heidi],
      'builtin:external-users': [...EXTERNAL_PRINCIPALS],
    };
    for (const g of DEMO_GROUPS)
      for (const p of members[g.id]) for (const where of ['before', 'inside', ...(g.untilMs === null ? [] : ['after'])]) counts.set(`${g.id} ${p} ${where}`, 0);
    for (const a of ds) {
      const p = activityActor(a);
      const t = activityTime(a)!;
      for (const g of DEMO_GROUPS) {
        if (!p || !members[g.id].includes(p)) continue;
        const where = t < g.sinceMs ? 'before' : g.untilMs === null || t < g.untilMs ? 'inside' : 'after';
        const k = `${g.id} ${p} ${where}`;
        counts.set(k, counts.get(k)! + 1);
      }
    }
    for (const p of [PRINCIPALS.alice, PRINCIPALS.dave, PRINCIPALS.erin, PRINCIPALS.grace, PRINCIPALS.ivan, PRINCIPALS.judy])
      counts.set(`ordinary ${p}`, ds.filter((a) => activityActor(a) === p).length);
    return counts;
  };

  it('covers every principal/group/interval bucket (default size and a small dataset)', () => {
    for (const ds of [data, generateDataset({ count: 100, seed: 3 })]) {
      const counts = buckets(ds);
      expect(counts.size).toBe(19);
      for (const [k, n] of counts) expect(n, k).toBeGreaterThan(0);
    }
  });

  it('has records at exactly the interval boundaries', () => {
    const [hr, ext, legal] = DEMO_GROUPS;
    const at = (p: string, ms: number) => data.some((a) => activityActor(a) === p && activityTime(a) === ms);
    expect(at(PRINCIPALS.bob, hr.sinceMs)).toBe(true);
    expect(data.some((a) => activityActor(a) === PRINCIPALS.carol && a.timestamp === '2026-03-01T01:00:00.000+01:00')).toBe(true);
    expect(at(PRINCIPALS.heidi, legal.sinceMs)).toBe(true);
    expect(at(PRINCIPALS.heidi, legal.untilMs!)).toBe(true);
    expect(at(PRINCIPALS.mallory, ext.sinceMs)).toBe(true);
  });
});

describe('formats helpers', () => {
  it('escape CSV and CEF as specified', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,"b"\nc')).toBe('"a,""b""\nc"');
    expect(cefHeader('a|b\\c')).toBe('a\\|b\\\\c');
    expect(cefExt('x=1\\y\nz')).toBe('x\\=1\\\\y\\nz');
    expect(freshId('69a3f1c2e4b0a1b2c3d4e5f6', 2)).toBe('00000002e4b0a1b2c3d4e5f6');
  });
});

describe('sample API', () => {
  let api: SampleApi;
  let small: SampleApi;
  let base: string;
  let sbase: string;
  let data: Activity[];

  beforeAll(async () => {
    api = createSampleApi();
    small = createSampleApi({ count: 50, seed: 5 });
    base = await api.listen();
    sbase = await small.listen(0, '127.0.0.1');
    data = api.dataset as Activity[];
  });
  afterAll(async () => {
    await api.close();
    await small.close();
  });

  const envelope = (slice: unknown[], hasNext: boolean, total: number) => JSON.stringify({ data: slice, hasNext, total, max: 100, moreThanTotal: false });

  it('lists the first page with the Defender envelope, byte for byte', async () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(api.url).toBe(base);
    const r = await request(base, '/api/v1/activities/');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(Number(r.headers['content-length'])).toBe(r.body.length);
    expect(r.body.toString()).toBe(envelope(data.slice(0, 100), true, 10_000));
  });

  it('paginates with skip/limit, clamps limit, ends with hasNext false', async () => {
    const last = JSON.parse((await request(base, '/api/v1/activities?skip=9950&limit=100')).body.toString());
    expect(last.data).toHaveLength(50);
    expect(last.hasNext).toBe(false);
    const ids = new Set<string>();
    for (let skip = 0; skip < 10_000; skip += 5000) {
      const page = JSON.parse((await request(base, `/api/v1/activities/?skip=${skip}&limit=9999`)).body.toString());
      expect(page.data).toHaveLength(5000);
      for (const a of page.data) ids.add(a._id);
    }
    expect(ids.size).toBe(10_000);
    expect((await request(base, '/api/v1/activities/?limit=abc')).status).toBe(400);
    expect((await request(base, '/API/V1/Activities?skip=20000')).body.toString()).toBe(envelope([], false, 10_000));
  });

  it('POST reads skip/limit from the body; query parameters win', async () => {
    const post = (path: string, body: string) => request(base, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const r = await post('/api/v1/activities/', '{"skip":10,"limit":5,"filters":{"user.username":{"eq":"x"}}}');
    expect(r.body.toString()).toBe(envelope(data.slice(10, 15), true, 10_000));
    const q = await post('/api/v1/activities/?limit=2', '{"skip":10,"limit":5}');
    expect(q.body.toString()).toBe(envelope(data.slice(10, 12), true, 10_000));
    expect((await post('/api/v1/activities/', '{nope')).status).toBe(400);
    expect((await request(base, '/api/v1/activities/', { method: 'DELETE' })).status).toBe(405);
  });

  it('pretty=1 indents with two spaces and parses to the same value', async () => {
    const pretty = (await request(base, '/api/v1/activities/?limit=3&pretty=1')).body.toString();
    const compact = (await request(base, '/api/v1/activities/?limit=3')).body.toString();
    expect(pretty).toContain('{\n  "data": [\n    {\n      "_id": ');
    expect(JSON.parse(pretty)).toEqual(JSON.parse(compact));
  });

  it('serves an item by id, with or without trailing slash; 404 otherwise', async () => {
    const a = data[1234];
    const r = await request(base, `/api/v1/activities/${a._id}/`);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe(JSON.stringify(a));
    expect((await request(base, `/api/v1/activities/${a._id}`)).body.toString()).toBe(JSON.stringify(a));
    const missing = await request(base, '/api/v1/activities/000000000000000000000000/');
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body.toString())).toEqual({ detail: 'Not found.' });
    const head = await request(base, `/api/v1/activities/${a._id}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(Buffer.byteLength(JSON.stringify(a)));
    expect(head.body.length).toBe(0);
  });

  it('exports NDJSON: one parsable activity per line', async () => {
    const r = await request(base, '/api/v1/activities/export/ndjson/');
    expect(r.headers['content-type']).toBe('application/x-ndjson');
    expect(r.headers['content-length']).toBeUndefined(); // streamed (chunked)
    const lines = r.body.toString().split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(10_000);
    expect(lines.map((l) => JSON.parse(l))).toEqual(data);
  });

  it('exports JSON: {"data":[...],"total":N}', async () => {
    const r = await request(sbase, '/api/v1/activities/export/json');
    expect(r.body.toString()).toBe(JSON.stringify({ data: small.dataset, total: 50 }));
  });

  it('exports RFC 4180 CSV with quoting', async () => {
    const r = await request(base, '/api/v1/activities/export/');
    expect(r.headers['content-type']).toMatch(/^text\/csv/);
    const rows = parseCsv(r.body.toString());
    expect(rows[0].join(',')).toBe('_id,timestamp,userName,userTags,actorType,eventTypeName,description,clientIP');
    expect(rows).toHaveLength(10_001);
    for (const row of rows) expect(row).toHaveLength(8);
    const seen = rows.slice(1).map((row) => [row[0], row[1], row[2], row[3].split(';').filter(Boolean).sort(), row[4], row[6]]);
    const want = data.map((a) => [
      a._id,
      String(a.timestamp),
      a.user?.userName ?? a.failedUserData?.userName ?? '',
      [...new Set(activityTags(a))].sort(),
      a.actorType,
      a.description,
    ]);
    expect(seen).toEqual(want);
    expect(rows.some((row) => row[6].includes('\n') || row[6].includes('"'))).toBe(true);
  });

  it('exports CEF lines, escaped, some with a syslog prefix', async () => {
    const r = await request(base, '/api/v1/activities/export/cef/');
    const lines = r.body.toString().split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(10_000);
    const re = /^(<134>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d mcas )?CEF:0\|Microsoft\|MCAS\|1\.0\|([^|]+)\|((?:[^|\\]|\\.)*)\|3\|(.*)$/;
    let prefixed = 0;
    lines.forEach((line, i) => {
      const m = re.exec(line);
      expect(m, line).not.toBeNull();
      if (m![1]) prefixed++;
      const a = data[i];
      const t = activityTime(a)!;
      expect(m![4].startsWith(`rt=${t} `)).toBe(true);
      const user = a.user?.userName ?? a.failedUserData?.userName;
      if (user) expect(m![4]).toContain(` suser=${user} `);
      else expect(m![4]).not.toContain('suser=');
      expect(m![4]).toContain(`externalId=${a._id} `);
      expect(m![3]).toBe(cefHeader(a.description));
    });
    expect(prefixed).toBeGreaterThan(500);
    expect(prefixed).toBeLessThan(lines.length);
    expect(lines.some((l) => /\|[^|]*\\\|[^|]*\|3\|/.test(l))).toBe(true); // escaped pipe in the name
    expect(lines.some((l) => l.includes(' msg=') && l.includes('\\='))).toBe(true);
    expect(lines.some((l) => l.includes('\\n'))).toBe(true);
  });

  it('cycles through the dataset with fresh ids for count= beyond the dataset', async () => {
    const r = await request(sbase, '/api/v1/activities/export/ndjson/?count=120');
    const recs = r.body
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(recs).toHaveLength(120);
    expect(new Set(recs.map((a) => a._id)).size).toBe(120);
    for (const a of recs) expect(a._id).toMatch(/^[0-9a-f]{24}$/);
    expect({ ...recs[50], _id: 'x' }).toEqual({ ...(small.dataset[0] as Activity), _id: 'x' });
    const csv = parseCsv((await request(sbase, '/api/v1/activities/export/csv/?count=7')).body.toString());
    expect(csv).toHaveLength(8);
    const json = JSON.parse((await request(sbase, '/api/v1/activities/export/json/?count=75')).body.toString());
    expect(json.total).toBe(75);
    expect(new Set(json.data.map((a: Activity) => a._id)).size).toBe(75);
  });

  it('bytes= streams at least N bytes in whole records', async () => {
    const n = 8 * 1024 * 1024;
    const nd = await drain(sbase, '/api/v1/activities/export/ndjson/?bytes=' + n);
    expect(nd.status).toBe(200);
    expect(nd.bytes).toBeGreaterThanOrEqual(n);
    expect(nd.bytes).toBeLessThan(n + 4096);
    expect(nd.tail.endsWith('}\n')).toBe(true);
    const cef = await drain(sbase, '/api/v1/activities/export/cef/?bytes=' + n);
    expect(cef.bytes).toBeGreaterThanOrEqual(n);
    expect(cef.newlines).toBeGreaterThan(n / 1000);
    const capped = await drain(sbase, `/api/v1/activities/export/ndjson/?bytes=${n}&count=10`);
    expect(capped.newlines).toBe(10);
  });

  it('survives a client that aborts a huge export', async () => {
    await new Promise<void>((resolve, reject) => {
      http
        .get(sbase + '/api/v1/activities/export/csv/?bytes=1000000000', { agent: false }, (res) => {
          res.once('data', () => {
            res.destroy();
            resolve();
          });
        })
        .on('error', reject);
    });
    expect((await request(sbase, '/api/v1/small/')).status).toBe(200);
  });

  it.each(['gzip', 'deflate', 'br'])('compresses lists, items and exports with encoding=%s', async (enc) => {
    const list = await request(base, `/api/v1/activities/?limit=50&encoding=${enc}`);
    expect(list.headers['content-encoding']).toBe(enc);
    expect(Number(list.headers['content-length'])).toBe(list.body.length);
    expect(decoders[enc](list.body).toString()).toBe(envelope(data.slice(0, 50), true, 10_000));
    const item = await request(base, `/api/v1/activities/${data[3]._id}/?encoding=${enc}`);
    expect(decoders[enc](item.body).toString()).toBe(JSON.stringify(data[3]));
    const exp = await request(sbase, `/api/v1/activities/export/ndjson/?encoding=${enc}`);
    expect(exp.headers['content-encoding']).toBe(enc);
    expect(decoders[enc](exp.body).toString()).toBe(small.dataset.map((a) => JSON.stringify(a) + '\n').join(''));
  });

  it('labels an unsupported encoding without compressing (for 502 tests)', async () => {
    const r = await request(sbase, '/api/v1/small/?encoding=zstd');
    expect(r.headers['content-encoding']).toBe('zstd');
    expect(JSON.parse(r.body.toString()).status).toBe('ok');
  });

  it('serves alerts and a ~200 B small payload; simulates errors', async () => {
    const alerts = await request(base, '/api/v1/alerts/');
    expect(JSON.parse(alerts.body.toString()).data).toHaveLength(2);
    const s = await request(base, '/api/v1/small');
    expect(s.body.length).toBeGreaterThan(150);
    expect(s.body.length).toBeLessThan(260);
    const err = await request(base, '/api/v1/activities/?status=503&delayMs=20');
    expect(err.status).toBe(503);
    expect(JSON.parse(err.body.toString())).toEqual({ detail: 'Simulated upstream error.' });
    expect((await request(base, '/nowhere')).status).toBe(404);
    expect((await request(base, '/api/v1/alerts/?status=OPEN')).status).toBe(200);
  });

  it('records requests (raw url, headers, body) and echoes them', async () => {
    const body = Buffer.from([0, 1, 2, 255, 0x7b]);
    const r = await request(sbase, '/api/v1/echo/?a=1&b=%2F', { method: 'POST', headers: { 'x-probe': 'yes', authorization: 'Bearer t' }, body });
    const echoed = JSON.parse(r.body.toString());
    expect(echoed.method).toBe('POST');
    expect(echoed.url).toBe('/api/v1/echo/?a=1&b=%2F');
    expect(echoed.headers['x-probe']).toBe('yes');
    expect(Buffer.from(echoed.body, 'base64')).toEqual(body);
    const rec = small.requests[small.requests.length - 1];
    expect(rec.method).toBe('POST');
    expect(rec.url).toBe('/api/v1/echo/?a=1&b=%2F');
    expect(rec.headers.authorization).toBe('Bearer t');
    expect(rec.body).toEqual(body);
  });

  it('keeps only the last 1000 recorded requests', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const get = (i: number) =>
      new Promise<void>((resolve, reject) => {
        http
          .get(`${sbase}/api/v1/small/?n=${i}`, { agent }, (res) => {
            res.resume();
            res.on('end', resolve);
          })
          .on('error', reject);
      });
    for (let i = 0; i < 1010; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => get(i + j)));
    agent.destroy();
    expect(small.requests).toHaveLength(1000);
    const ns = small.requests.map((r) => Number(new URLSearchParams(r.url.split('?')[1]).get('n')));
    expect(ns).toContain(1049);
    expect(Math.min(...ns.filter((n) => !Number.isNaN(n)))).toBeGreaterThan(0);
  });

  it('uses a caller-supplied dataset as is', async () => {
    const custom = createSampleApi({ dataset: [{ _id: 'a,1', timestamp: 5, description: 'x' }, { noId: true }] });
    const u = await custom.listen();
    try {
      expect((await request(u, '/api/v1/activities/')).body.toString()).toBe(envelope(custom.dataset, false, 2));
      expect((await request(u, '/api/v1/activities/a%2C1/')).status).toBe(200);
      const csv = parseCsv((await request(u, '/api/v1/activities/export/?count=4')).body.toString());
      expect(csv.map((r) => r[0])).toEqual(['_id', 'a,1', '', 'a,1~1', '']);
    } finally {
      await custom.close();
    }
  });
});
