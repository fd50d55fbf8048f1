/**
 * In-process CPU of the CSV / CEF export filters: the sample API's export lines
 * (the bench upstream's rows, demo config) repeated to `--mib` MiB, fed in 64 KiB
 * chunks through createExportFilter with the demo config's fromFields and a
 * stub hide (keeps every record). Prints CPU seconds per GiB per format.
 *
 *   node dist-bench/bench/exportCpu.js [--mib 64] [--rounds 3] [--formats csv,cef]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/config/index.js';
import { generateDataset } from '../src/demo/dataset.js';
import { CSV_HEADER, cefLine, csvLine, lineBytes } from '../src/demo/formats.js';
import { factsFromFields } from '../src/privacy/extract.js';
import { createExportFilter, type CsvColumns } from '../src/rewrite/export/index.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const MIB = Number(arg('mib', '64'));
const ROUNDS = Number(arg('rounds', '3'));
const FORMATS = arg('formats', 'csv,cef').split(',') as Array<'csv' | 'cef'>;
const CHUNK = 64 * 1024;

const parsed = parseConfig(readFileSync(path.resolve(HERE, '..', '..', 'config', 'demo.yaml'), 'utf8'), { ...process.env });
if (!parsed.ok) throw new Error('config/demo.yaml does not validate');
const spec = parsed.config.activities;
const last = (p: string): string => p.slice(p.lastIndexOf('.') + 1);
const columns: CsvColumns = {
  id: last(spec.id ?? '_id'),
  actor: spec.actor.map(last),
  timestamp: last(spec.timestamp),
  groups: spec.groups.map(last),
  application: spec.application ? last(spec.application.path) : undefined,
};

function body(format: 'csv' | 'cef'): Buffer[] {
  const data = generateDataset();
  const lines = data.map((r, i) => (format === 'csv' ? csvLine(r) : cefLine(r, i % 10 === 3)));
  const parts: Buffer[] = format === 'csv' ? [Buffer.from(CSV_HEADER)] : [];
  let n = parts.length ? parts[0].length : 0;
  for (let cycle = 0; n < MIB * 1024 * 1024; cycle++) {
    for (const l of lines) {
      for (const p of lineBytes(l, format, cycle)) {
        parts.push(p);
        n += p.length;
      }
    }
  }
  const all = Buffer.concat(parts);
  const chunks: Buffer[] = [];
  for (let at = 0; at < all.length; at += CHUNK) chunks.push(all.subarray(at, at + CHUNK));
  return chunks;
}

async function once(format: 'csv' | 'cef', chunks: Buffer[]): Promise<{ cpu: number; bytes: number; records: number; kept: number }> {
  let records = 0;
  let kept = 0;
  const f = createExportFilter({
    format,
    extract: () => {
      throw new Error('not used');
    },
    fromFields: (fields) => factsFromFields(fields, spec),
    csvColumns: columns,
    hide: (facts) => {
      records += facts.length;
      return facts.map(() => false);
    },
  });
  const t0 = process.cpuUsage();
  await new Promise<void>((resolve, reject) => {
    f.on('data', (c: Buffer) => {
      kept += c.length;
    });
    f.on('end', resolve);
    f.on('error', reject);
    let i = 0;
    const pump = (): void => {
      while (i < chunks.length) if (!f.write(chunks[i++])) return void f.once('drain', pump);
      f.end();
    };
    pump();
  });
  const d = process.cpuUsage(t0);
  const bytes = chunks.reduce((a, c) => a + c.length, 0);
  return { cpu: (d.user + d.system) / 1e6, bytes, records, kept };
}

for (const format of FORMATS) {
  const chunks = body(format);
  await once(format, chunks.slice(0, 64)); // warm up
  const rates: number[] = [];
  let last: Awaited<ReturnType<typeof once>> | undefined;
  for (let r = 0; r < ROUNDS; r++) {
    last = await once(format, chunks);
    rates.push(last.cpu / (last.bytes / 2 ** 30));
  }
  rates.sort((a, b) => a - b);
  console.log(
    `${format}: ${(last!.bytes / 2 ** 20).toFixed(0)} MiB, ${last!.records} records decided, ${last!.kept === last!.bytes ? 'all bytes kept' : `kept ${last!.kept} B`}; ` +
      `CPU s/GiB median ${rates[rates.length >> 1].toFixed(2)} (min ${rates[0].toFixed(2)}, max ${rates[rates.length - 1].toFixed(2)})`,
  );
}
