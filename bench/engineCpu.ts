/**
 * In-process CPU of the filtering work itself, without HTTP (issue 13): the
 * bench upstream's list page (226 KB, 100 padded activities) and 24 MiB of
 * each export format are fetched once from a bench upstream child, then timed
 * with process.cpuUsage (best of 7 batches): the engine's scan of the page
 * (with and without the field plan), the facts of its 100 records,
 * filterList with 20 % hidden, and each export filter (64 KiB chunks, a stub
 * hide) in CPU seconds per GiB. Run it against two builds to compare them:
 *
 *   node dist-bench/bench/engineCpu.js [dist directory, default ../../dist]
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startChild, stopAll } from './procs.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.resolve(process.argv[2] ?? path.join(HERE, '..', '..', 'dist'));
const load = async <T>(rel: string): Promise<T> => (await import(pathToFileURL(path.join(DIST, rel)).href)) as T;

interface Fetched {
  page: Buffer;
  exports: Record<'ndjson' | 'json' | 'csv' | 'cef', Buffer>;
}

async function fetchData(): Promise<Fetched> {
  const upstream = await startChild('upstream', process.execPath, [path.join(HERE, 'children', 'upstream.js')]);
  const get = async (p: string): Promise<Buffer> => Buffer.from(await (await fetch(upstream.url + p)).arrayBuffer());
  const bytes = 24 << 20;
  return {
    page: await get('/api/v1/activities/?skip=5300&limit=100'),
    exports: {
      ndjson: await get(`/api/v1/activities/export/ndjson/?bytes=${bytes}`),
      json: await get(`/api/v1/activities/export/json/?bytes=${bytes}`),
      csv: await get(`/api/v1/activities/export/csv/?bytes=${bytes}`),
      cef: await get(`/api/v1/activities/export/cef/?bytes=${bytes}`),
    },
  };
}

/** CPU µs per call: best of 7 batches of n calls after a warm-up. */
function cpu(fn: () => unknown, n: number): number {
  for (let i = 0; i < Math.min(n, 200); i++) fn();
  let best = Infinity;
  for (let b = 0; b < 7; b++) {
    const t = process.cpuUsage();
    for (let i = 0; i < n; i++) fn();
    const d = process.cpuUsage(t);
    best = Math.min(best, (d.user + d.system) / n);
  }
  return best;
}

async function main(): Promise<void> {
  const data = await fetchData();
  await stopAll();
  const { scanJsonFast } = await load<any>('engine/wasmScan.js');
  const { compileFieldReader } = await load<any>('rewrite/fieldReader.js');
  const { filterList } = await load<any>('rewrite/list.js');
  const { compileExtractor, compileFieldsExtractor } = await load<any>('privacy/extract.js');
  const { createExportFilter } = await load<any>('rewrite/export/index.js');
  const spec = {
    id: '_id',
    timestamp: 'timestamp',
    actor: ['user.userName', 'failedUserData.userName'],
    groups: ['user.userTags', 'resolvedActor.tags'],
    application: { path: 'actorType', equals: ['APPLICATION'] },
    builtinTags: {},
  };
  const read = compileFieldReader(spec);
  const page = data.page;
  const opts = { items: 'data', total: 'total', fields: read.plan };
  const scan = scanJsonFast(page, opts);
  const els = scan.arrays[0].elements as { start: number; end: number; slot: number }[];
  const hide = (facts: unknown[]): boolean[] => facts.map((_, i) => i % 5 === 0);
  const rows: [string, string][] = [
    ['scan of the page (validate, items, total, field slots)', `${cpu(() => scanJsonFast(page, opts), 300).toFixed(0)} µs`],
    ['scan of the page without the field plan', `${cpu(() => scanJsonFast(page, { items: 'data', total: 'total' }), 300).toFixed(0)} µs`],
    ['facts of its 100 records from the slots', `${cpu(() => els.map((e) => read.fromSlots(page, e.start, e.end, scan.slots, e.slot)), 300).toFixed(0)} µs`],
    [
      'filterList, 20 % hidden (scan, facts, stub decision, splice)',
      `${cpu(() => void filterList(page, { items: 'data', total: 'total', read, hide, remove: true }), 300).toFixed(0)} µs`,
    ],
  ];
  for (const format of ['ndjson', 'json', 'csv', 'cef'] as const) {
    const all = data.exports[format];
    const chunks: Buffer[] = [];
    for (let i = 0; i < all.length; i += 65536) chunks.push(all.subarray(i, i + 65536));
    const once = async (): Promise<number> => {
      const f = createExportFilter({
        format,
        items: 'data',
        extract: compileExtractor(spec),
        read,
        fromFields: compileFieldsExtractor(spec),
        csvColumns: { id: '_id', actor: ['userName'], timestamp: 'timestamp', groups: ['userTags'], application: 'actorType' },
        hide: (facts: unknown[]) => facts.map(() => false),
      });
      f.resume();
      const done = new Promise((resolve, reject) => f.on('end', resolve).on('error', reject));
      const t = process.cpuUsage();
      for (const c of chunks) if (!f.write(c)) await new Promise((r) => f.once('drain', r));
      f.end();
      await done;
      const d = process.cpuUsage(t);
      return (d.user + d.system) / 1e6;
    };
    await once();
    let best = Infinity;
    for (let i = 0; i < 5; i++) best = Math.min(best, await once());
    rows.push([`${format} export filter, ${(all.length / 1048576).toFixed(0)} MiB`, `${((best / all.length) * 2 ** 30).toFixed(2)} s/GiB`]);
  }
  process.stdout.write(`In-process CPU (${DIST})\n\n| work | CPU |\n| --- | ---: |\n${rows.map(([a, b]) => `| ${a} | ${b} |`).join('\n')}\n`);
}

main().catch(async (err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  await stopAll();
  process.exit(1);
});
