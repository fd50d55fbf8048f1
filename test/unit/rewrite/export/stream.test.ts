import { describe, expect, test } from 'vitest';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, gzipSync } from 'node:zlib';
import { createExportFilter, ExportStructureError, type ExportFilterOptions, type ExportFormat } from '../../../../src/rewrite/export/index.js';
import type { ActivityFacts } from '../../../../src/privacy/types.js';

const MB = 1024 * 1024;

function options(format: ExportFormat, hideAsync: boolean): ExportFilterOptions {
  return {
    format,
    extract: (r) => ({ id: (r as { id?: string }).id, actor: (r as { u?: string }).u, groups: [], isApplication: false }),
    fromFields: (f) => ({ id: f.id, actor: f.actor, groups: f.groups ?? [], isApplication: false }),
    csvColumns: { id: 'id', actor: ['u'], timestamp: 't', groups: ['g'] },
    hide: (fs: readonly ActivityFacts[]) => {
      const v = fs.map((f) => f.actor === 'bob');
      return hideAsync ? new Promise<boolean[]>((res) => setImmediate(() => res(v))) : v;
    },
  };
}

async function collect(src: Readable, filter: ReturnType<typeof createExportFilter>): Promise<{ out: string; err: unknown }> {
  const out: Buffer[] = [];
  let err: unknown = null;
  try {
    await pipeline(
      src,
      filter,
      new Writable({
        write(c: Buffer, _e, cb) {
          out.push(c);
          cb();
        },
      }),
    );
  } catch (e) {
    err = e;
  }
  return { out: Buffer.concat(out).toString(), err };
}

/** Small chunks out of the gunzip so records straddle its output boundaries too. */
const gunzip = (): ReturnType<typeof createGunzip> => createGunzip({ chunkSize: 64 });

describe('export filter as a stream', () => {
  const samples: [ExportFormat, string, string][] = [
    ['ndjson', '{"id":"1","u":"al"}\n{"id":"2","u":"bob"}\n{"id":"3","u":"é😀"}\n'.repeat(50), '{"id":"1","u":"al"}\n{"id":"3","u":"é😀"}\n'.repeat(50)],
    [
      'json',
      `{"total":150,"data":[${'{"id":"1","u":"al"},{"id":"2","u":"bob"},'.repeat(75)}{"u":"z"}]}`,
      `{"total":150,"data":[${'{"id":"1","u":"al"},'.repeat(75)}{"u":"z"}]}`,
    ],
    ['csv', 'id,u,t,g\r\n' + '1,al,5,"a;b"\r\n2,bob,6,\r\n3,"x,""y""",7,\r\n'.repeat(50), 'id,u,t,g\r\n' + '1,al,5,"a;b"\r\n3,"x,""y""",7,\r\n'.repeat(50)],
    ['cef', 'CEF:0|a|b|c|d|e|5|suser=al rt=1\n<13>h CEF:0|a|b|c|d|e|5|suser=bob rt=1\n'.repeat(50), 'CEF:0|a|b|c|d|e|5|suser=al rt=1\n'.repeat(50)],
  ];
  test.each(samples)('%s piped after zlib.createGunzip()', async (format, src, want) => {
    const gz = gzipSync(Buffer.from(src));
    const feed = Readable.from([gz.subarray(0, 10), gz.subarray(10, 11), gz.subarray(11)]);
    const r = await collect(feed.pipe(gunzip()), createExportFilter(options(format, true)));
    expect(r.err).toBeNull();
    expect(r.out).toBe(want);
  });

  test('kept bytes leave as the input chunk itself, or one view of it per run of kept records (no copy per record)', async () => {
    const filter = createExportFilter(options('ndjson', false));
    const out: Buffer[] = [];
    filter.on('data', (c: Buffer) => out.push(c));
    const write = (b: Buffer) => new Promise<void>((res, rej) => filter.write(b, (e) => (e ? rej(e) : res())));
    const whole = Buffer.from('{"id":"1","u":"al"}\n{"id":"3","u":"x"}\n{"id":"4","u":"y"}\n');
    await write(whole);
    expect(out).toHaveLength(1);
    expect(out[0]).toBe(whole); // all kept, whole lines: the chunk itself
    const mixed = Buffer.from('{"id":"5","u":"al"}\n{"id":"6","u":"x"}\n{"id":"7","u":"bob"}\n{"id":"8","u":"z"}\n{"id":"9","u":"z"}\n{"id":"1');
    await write(mixed);
    expect(out).toHaveLength(2);
    expect(out[1].toString()).toBe('{"id":"5","u":"al"}\n{"id":"6","u":"x"}\n{"id":"8","u":"z"}\n{"id":"9","u":"z"}\n');
    await write(Buffer.from('0","u":"al"}\n{"id":"11","u":"al"}\n'));
    filter.end();
    await new Promise((res) => filter.on('end', res));
    expect(Buffer.concat(out.slice(2)).toString()).toBe('{"id":"10","u":"al"}\n{"id":"11","u":"al"}\n');
  });

  test('a truncated gzip body cuts the export off without unfiltered bytes', async () => {
    const gz = gzipSync(Buffer.from('{"id":"1","u":"al"}\n{"id":"2","u":"bob"}\n'.repeat(200)));
    const filter = createExportFilter(options('ndjson', false));
    const r = await collect(Readable.from([gz.subarray(0, gz.length - 20)]).pipe(gunzip()), filter);
    expect(r.out).not.toContain('bob');
    expect(filter.destroyed).toBe(true);
  });

  test('a structural error destroys the stream (the caller resets the connection)', async () => {
    const filter = createExportFilter(options('json', false));
    const r = await collect(Readable.from([Buffer.from('{"data":[{"u":"al"},{"u":"bob"}'), Buffer.from(',oops]}')]), filter);
    expect(r.err).toBeInstanceOf(ExportStructureError);
    expect(filter.destroyed).toBe(true);
    expect(r.out).toBe('{"data":[{"u":"al"}');
  });

  /**
   * 64 MB through the filter with an async `hide` and a consumer that yields
   * between writes. Memory, not time, is asserted: RSS growth stays under
   * 64 MB and the producer is never far ahead of the consumer (backpressure
   * end to end). Throughput is printed for the record.
   */
  async function throughput(format: 'ndjson' | 'csv'): Promise<{ mbps: number; rssGrowth: number; maxAhead: number; kept: number }> {
    const total = 64 * MB;
    const lines: string[] = [];
    for (let i = 0; i < 200; i++) {
      const u = i % 10 === 0 ? 'bob' : `user${i}@contoso.com`;
      lines.push(
        format === 'ndjson'
          ? JSON.stringify({
              id: `a${i}`,
              u,
              timestamp: 1_700_000_000_000 + i,
              description: `Activity ${i} with "quotes", commas and unicode é😀`,
              tags: ['x', 'y'],
            }) + '\n'
          : `a${i},${u},${1_700_000_000_000 + i},"x;y","Activity ${i} with ""quotes"", commas, and unicode é😀"\r\n`,
      );
    }
    const block = Buffer.from(lines.join(''));
    let produced = 0;
    let consumed = 0;
    let maxAhead = 0;
    let kept = 0;
    const header = Buffer.from('id,u,t,g,description\r\n');
    const src = new Readable({
      read() {
        // one block per read call: the stream machinery decides when to ask for more
        if (produced >= total) return void this.push(null);
        if (produced === 0 && format === 'csv') this.push(header);
        produced += block.length;
        this.push(block);
      },
    });
    const sink = new Writable({
      highWaterMark: 64 * 1024,
      write(c: Buffer, _e, cb) {
        consumed += c.length;
        for (let i = c.indexOf(10); i >= 0; i = c.indexOf(10, i + 1)) kept++;
        maxAhead = Math.max(maxAhead, produced - consumed);
        setImmediate(cb); // a consumer that is slower than a plain loop
      },
    });
    const rss0 = process.memoryUsage().rss;
    let rssMax = rss0;
    const timer = setInterval(() => {
      rssMax = Math.max(rssMax, process.memoryUsage().rss);
    }, 20);
    const t0 = process.hrtime.bigint();
    await pipeline(src, createExportFilter(options(format, true)), sink);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    clearInterval(timer);
    rssMax = Math.max(rssMax, process.memoryUsage().rss);
    return { mbps: produced / MB / secs, rssGrowth: (rssMax - rss0) / MB, maxAhead: maxAhead / MB, kept };
  }

  test('64 MB of NDJSON: constant memory and backpressure', async () => {
    const r = await throughput('ndjson');
    console.log(`ndjson: ${r.mbps.toFixed(1)} MB/s, RSS growth ${r.rssGrowth.toFixed(1)} MB, producer ahead at most ${r.maxAhead.toFixed(2)} MB`);
    expect(r.rssGrowth).toBeLessThan(64);
    expect(r.maxAhead).toBeLessThan(8);
    // 1 record in 10 is hidden
    expect(r.kept).toBeGreaterThan(0);
  }, 120_000);

  test('64 MB of CSV: constant memory and backpressure', async () => {
    const r = await throughput('csv');
    console.log(`csv: ${r.mbps.toFixed(1)} MB/s, RSS growth ${r.rssGrowth.toFixed(1)} MB, producer ahead at most ${r.maxAhead.toFixed(2)} MB`);
    expect(r.rssGrowth).toBeLessThan(64);
    expect(r.maxAhead).toBeLessThan(8);
    expect(r.kept).toBeGreaterThan(0);
  }, 120_000);
});
