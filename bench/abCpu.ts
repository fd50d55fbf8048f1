/**
 * Two builds of the list filter in ONE process, in alternating batches (A B,
 * B A, …), so both see the same machine load: CPU µs per call (process.cpuUsage)
 * of the engine's scan of the bench's list page (with the field plan, and bare
 * validation), the facts of its 100 records and the awaited filterList with
 * 20 % hidden. Prints each build's median (and quartiles) and the median of the
 * per-round ratio B ÷ A, the figure that moves least on a shared machine.
 * Each build's modules load from their own directory (their own engine instance).
 *
 *   node dist-bench/bench/abCpu.js <dist A> <dist B> [rounds, default 12]
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startChild, stopAll } from './procs.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SPEC = {
  id: '_id',
  timestamp: 'timestamp',
  actor: ['user.userName', 'failedUserData.userName'],
  groups: ['user.userTags', 'resolvedActor.tags'],
  application: { path: 'actorType', equals: ['APPLICATION'] },
  builtinTags: {},
};
const WORK = { scan: 200, validate: 200, facts: 300, filterList: 150 } as const;
type Work = keyof typeof WORK;
type Impl = Record<Work, () => unknown>;

async function fetchPage(): Promise<Buffer> {
  const upstream = await startChild('upstream', process.execPath, [path.join(HERE, 'children', 'upstream.js')]);
  const page = Buffer.from(await (await fetch(`${upstream.url}/api/v1/activities/?skip=5300&limit=100`)).arrayBuffer());
  await stopAll();
  return page;
}

async function load(dist: string, page: Buffer): Promise<Impl> {
  const at = async (rel: string): Promise<any> => import(pathToFileURL(path.join(path.resolve(dist), rel)).href);
  const { scanJsonFast } = await at('engine/wasmScan.js');
  const { compileFieldReader } = await at('rewrite/fieldReader.js');
  const { filterList } = await at('rewrite/list.js');
  const read = compileFieldReader(SPEC);
  const opts = { items: 'data', total: 'total', fields: read.plan };
  const scan = scanJsonFast(page, opts);
  const els = scan.arrays[0].elements as { start: number; end: number; slot: number }[];
  const hide = (facts: unknown[]): boolean[] => facts.map((_, i) => i % 5 === 0);
  return {
    scan: () => scanJsonFast(page, opts),
    validate: () => scanJsonFast(page, {}),
    facts: () => els.map((e) => read.fromSlots(page, e.start, e.end, scan.slots, e.slot)),
    filterList: () => filterList(page, { items: 'data', total: 'total', read, hide, remove: true }),
  };
}

/** CPU µs per call over one batch of n calls (awaited one by one when they return promises). */
async function batch(fn: () => unknown, n: number): Promise<number> {
  const t = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const r = fn();
    if (r instanceof Promise) await r;
  }
  const d = process.cpuUsage(t);
  return (d.user + d.system) / n;
}

const quantile = (a: readonly number[], f: number): number => [...a].sort((x, y) => x - y)[Math.floor(f * (a.length - 1))];
const fmt = (a: readonly number[], digits: number): string =>
  `${quantile(a, 0.5).toFixed(digits)} [${quantile(a, 0.25).toFixed(digits)}–${quantile(a, 0.75).toFixed(digits)}]`;

async function main(): Promise<void> {
  const [a, b] = [process.argv[2], process.argv[3]];
  if (a === undefined || b === undefined) throw new Error('usage: abCpu.js <dist A> <dist B> [rounds]');
  const rounds = Number(process.argv[4] ?? 12);
  const page = await fetchPage();
  const impls = [await load(a, page), await load(b, page)];
  const works = Object.keys(WORK) as Work[];
  const got = new Map<Work, [number[], number[]]>(works.map((w) => [w, [[], []]]));
  for (const w of works) for (const impl of impls) await batch(impl[w], WORK[w]); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const w of works) for (const j of r % 2 === 0 ? [0, 1] : [1, 0]) got.get(w)![j].push(await batch(impls[j][w], WORK[w]));
  }
  const lines = works.map((w) => {
    const [x, y] = got.get(w)!;
    return `| ${w} | ${fmt(x, 1)} | ${fmt(y, 1)} | ${fmt(
      y.map((v, i) => v / x[i]),
      3,
    )} |`;
  });
  process.stdout.write(
    `A = ${a}\nB = ${b}\n${rounds} alternating rounds; CPU µs per call, median [quartiles]\n\n` +
      `| work | A | B | B ÷ A per round |\n| --- | ---: | ---: | ---: |\n${lines.join('\n')}\n`,
  );
}

main().catch(async (err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  await stopAll();
  process.exit(1);
});
