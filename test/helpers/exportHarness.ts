import fc from 'fast-check';
import { createExportFilter, type ExportFilterOptions } from '../../src/rewrite/export/index.js';

/** Runs an export filter over the chunks; resolves with everything it emitted and the error, if any. */
export function run(opts: ExportFilterOptions, chunks: Buffer[]): Promise<{ out: Buffer; err: unknown }> {
  return new Promise((resolve) => {
    const f = createExportFilter(opts);
    const out: Buffer[] = [];
    f.on('data', (c: Buffer) => out.push(c));
    f.on('end', () => resolve({ out: Buffer.concat(out), err: null }));
    f.on('error', (err) => resolve({ out: Buffer.concat(out), err }));
    for (const c of chunks) if (c.length) f.write(c);
    f.end();
  });
}

/** Splits buf into chunks of the given sizes, cycling through them (none: one chunk). */
export function chunked(buf: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < buf.length; i++) {
    const n = sizes.length ? sizes[i % sizes.length] : buf.length;
    out.push(buf.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** Strings full of every format's delimiters, quotes, escapes and awkward unicode. */
export const hostile = fc.oneof(
  fc.string({
    unit: fc.constantFrom('a', ' ', '\n', '\r', '"', '\\', ',', ';', '|', '=', '{', '}', '[', ']', 'é', '€', '😀', '\u2028', '\t', '\u0000'),
    maxLength: 12,
  }),
  fc.string({ unit: 'binary', maxLength: 8 }),
);
