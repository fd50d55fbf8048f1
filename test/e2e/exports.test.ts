import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SampleApi } from '../../src/demo/sampleApi.js';
import type { Gateway } from '../../src/gateway.js';
import { get, startDemoStack, type DemoStack } from '../helpers/gateway.js';
import { demoHides } from '../helpers/oracle.js';

/** Strict RFC 4180 reader for the tests (independent of the gateway's CSV code). */
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
    if (c === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
      continue;
    }
    field += c;
    i++;
  }
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

describe('export feeds through the gateway: never a private activity, for anybody', () => {
  let api: SampleApi;
  let gw: Gateway;
  let stack: DemoStack;
  let upstream: string;
  let byId: Map<string, any>;

  beforeAll(async () => {
    stack = await startDemoStack();
    ({ api, gw, upstream } = stack);
    byId = new Map(api.dataset.map((a: any) => [a._id, a]));
  });
  afterAll(async () => {
    await stack?.close();
  });

  const expectedIds = () => api.dataset.filter((a: any) => !demoHides(a)).map((a: any) => a._id);

  it('ndjson: exactly the public activities, in order, byte-identical lines', async () => {
    const d = await get(`${upstream}/api/v1/activities/export/ndjson/`);
    const r = await get(`${gw.url}/api/v1/activities/export/ndjson/`);
    expect(r.status).toBe(200);
    const lines = r.text.split('\n').filter(Boolean);
    expect(lines.map((l) => JSON.parse(l)._id)).toEqual(expectedIds());
    const upstreamLines = new Set(d.text.split('\n'));
    for (const l of lines) expect(upstreamLines.has(l)).toBe(true);
    expect(r.headers.get('content-length')).toBeNull();
  });

  it('json: the envelope passes, the array is filtered', async () => {
    const r = await get(`${gw.url}/api/v1/activities/export/json/`);
    expect(r.status).toBe(200);
    const j = r.json();
    expect(j.data.map((a: any) => a._id)).toEqual(expectedIds());
    for (const a of j.data) expect(a).toEqual(byId.get(a._id));
  });

  it('csv: header kept, rows filtered, quoted fields intact', async () => {
    const d = await get(`${upstream}/api/v1/activities/export/`);
    const r = await get(`${gw.url}/api/v1/activities/export/`);
    expect(r.status).toBe(200);
    const rows = parseCsv(r.text);
    const drows = parseCsv(d.text);
    expect(rows[0]).toEqual(drows[0]);
    const idCol = rows[0].indexOf('_id');
    const got = rows.slice(1).map((row) => row[idCol]);
    expect(got).toEqual(expectedIds());
    // the rows are byte-identical to upstream's: every kept row's fields equal the upstream row's
    const dById = new Map(drows.slice(1).map((row) => [row[idCol], row]));
    for (const row of rows.slice(1)) expect(row).toEqual(dById.get(row[idCol]));
    expect(rows.slice(1).some((row) => row.some((f) => f.includes(',') || f.includes('"') || f.includes('\n')))).toBe(true);
  });

  it('cef: lines filtered by suser / rt / tags / actor type', async () => {
    const r = await get(`${gw.url}/api/v1/activities/export/cef/`);
    expect(r.status).toBe(200);
    const lines = r.text.split('\n').filter(Boolean);
    const ids = lines.map((l) => /externalId=(\S+)/.exec(l)?.[1]);
    expect(ids).toEqual(expectedIds());
    expect(lines.some((l) => l.startsWith('<134>'))).toBe(true);
  });

  it('a 1 GB NDJSON export streams in constant memory (RSS growth after GC < 64 MB); throughput reported', async () => {
    const size = Number(process.env.APG_LARGE_EXPORT_BYTES ?? 1024 ** 3);
    // Sample RSS after a forced collection (workers run with --expose-gc), so the figure is
    // what the streams retain, not V8's young generation sized by the allocation rate.
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(typeof gc).toBe('function');
    gc!();
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const sampler = setInterval(() => {
      gc!();
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 250);
    const t0 = performance.now();
    const { bytes, lines } = await new Promise<{ bytes: number; lines: number }>((resolve, reject) => {
      http
        .get(`${gw.url}/api/v1/activities/export/ndjson/?bytes=${size}`, (res) => {
          let n = 0;
          let nl = 0;
          res.on('data', (c: Buffer) => {
            n += c.length;
            for (let i = c.indexOf(10); i !== -1; i = c.indexOf(10, i + 1)) nl++;
          });
          res.on('end', () => resolve({ bytes: n, lines: nl }));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    clearInterval(sampler);
    const secs = (performance.now() - t0) / 1000;
    const growth = (peak - rss0) / 1024 / 1024;
    console.log(
      `[large export] upstream ${(size / 1024 ** 2).toFixed(0)} MiB → gateway sent ${(bytes / 1024 ** 2).toFixed(0)} MiB (${lines} activities) in ${secs.toFixed(1)} s = ${(size / 1024 ** 2 / secs).toFixed(1)} MiB/s of upstream input; RSS growth ${growth.toFixed(1)} MB (sample API, gateway and client share this process)`,
    );
    expect(bytes).toBeGreaterThan(size * 0.4);
    expect(growth).toBeLessThan(64);
  }, 600_000);
});
