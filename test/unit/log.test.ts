/**
 * The access line's fast writer (src/log.ts fastInfo/infoLine) writes exactly
 * the bytes winston writes for logger.info(fields) on a createLogger logger.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import fc from 'fast-check';
import { PIPE_BUF, createLogger, fastInfo, flushLines, infoLine } from '../../src/log.js';
import { ensureBuilt, ROOT } from '../helpers/build.js';

/** Everything written to process.stdout while fn runs (winston's Console transport writes there too). */
async function stdoutOf(fn: () => void): Promise<string> {
  return (await writesOf(fn)).join('');
}

/** Each write to process.stdout while fn runs and until the turn after it; `during`: the writes made before fn returned. */
async function writesOf(fn: () => void, during?: string[]): Promise<string[]> {
  const out: string[] = [];
  const capture = (chunk: string | Uint8Array): boolean => {
    out.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
    return true;
  };
  // winston's Console transport writes to console._stdout (process.stdout outside the test runner)
  const consoleStdout = (console as unknown as { _stdout?: NodeJS.WriteStream })._stdout;
  const spies = [vi.spyOn(process.stdout, 'write').mockImplementation(capture)];
  if (consoleStdout && consoleStdout !== process.stdout) spies.push(vi.spyOn(consoleStdout, 'write').mockImplementation(capture));
  try {
    fn();
    during?.push(...out);
    await new Promise((r) => setImmediate(r)); // winston's stream pipeline may deliver on a later tick
  } finally {
    for (const s of spies) s.mockRestore();
  }
  return out;
}

const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('"', '\\', '\u2028', '\ud800', 'é', '\u0000', ''));
const scalar = fc.oneof(text, fc.integer(), fc.double({ noNaN: false }), fc.boolean(), fc.constant(null), fc.constant(undefined));
const fieldsArb = fc.record(
  {
    msg: fc.oneof(fc.constant('access'), text),
    requestId: text,
    method: fc.constantFrom('GET', 'POST', 'HEAD'),
    path: text,
    kind: fc.constantFrom('passthrough', 'list', 'item', 'export', 'deny', 'admin', 'none'),
    status: fc.integer({ min: 0, max: 599 }),
    ms: fc.double({ min: 0, max: 1e6, noNaN: true }),
    removed: fc.nat(),
    reveal: fc.constantFrom('none', 'ignored', 'granted'),
    principal: text,
    reason: fc.boolean(),
    tokenError: text,
    note: text,
    extra: scalar,
    level: fc.constantFrom('warn', 'info'),
    instance: text,
    timestamp: fc.oneof(text, fc.constant(0)),
  },
  { requiredKeys: ['msg', 'requestId', 'method', 'path', 'kind', 'status', 'ms', 'removed', 'reveal'] },
);

describe('fast access line', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-12-01T04:05:06.789Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  test('same bytes as winston for generated access lines (1,000 cases)', async () => {
    const logger = createLogger('info', 'gw-1');
    const fast = fastInfo(logger)!;
    expect(fast).toBeTypeOf('function');
    await fc.assert(
      fc.asyncProperty(fieldsArb, async (fields) => {
        const viaWinston = await stdoutOf(() => logger.info({ ...fields }));
        const viaFast = await stdoutOf(() => fast({ ...fields }));
        expect(viaFast).toBe(viaWinston);
        expect(viaFast).toBe(infoLine({ ...fields }, 'gw-1'));
      }),
      { numRuns: 1_000 },
    );
  });

  test('nothing at a level above info; objects and `message` go through winston itself', async () => {
    const quiet = createLogger('warn', 'gw-1');
    expect(await stdoutOf(() => fastInfo(quiet)!({ msg: 'access', status: 200 }))).toBe('');
    const logger = createLogger('info', 'gw-1');
    for (const fields of [
      { msg: 'x', nested: { b: 1, a: 2 } },
      { msg: 'x', message: 'other' },
    ]) {
      const viaWinston = await stdoutOf(() => logger.info({ ...fields }));
      expect(await stdoutOf(() => fastInfo(logger)!({ ...fields }))).toBe(viaWinston);
    }
  });

  test('loggers not made by createLogger have no fast writer', () => {
    expect(fastInfo(createLogger('info', 'x'))).toBeDefined();
    expect(fastInfo({} as never)).toBeUndefined();
  });
});

describe('access lines batched per event-loop turn', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] }); // the expected lines carry the same timestamp
    vi.setSystemTime(new Date('2026-12-07T21:40:00.000Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const fieldsOf = (i: number) => ({
    msg: 'access',
    requestId: `r${i}`,
    method: 'GET',
    path: '/api/v1/small/',
    kind: 'passthrough',
    status: 200,
    ms: i / 10,
    removed: 0,
    reveal: 'none',
  });

  test('the lines of one turn are one write, after the turn: the same bytes in the same order', async () => {
    const fast = fastInfo(createLogger('info', 'gw-1'))!;
    const during: string[] = [];
    const lines: string[] = [];
    const writes = await writesOf(() => {
      for (let i = 0; i < 12; i++) {
        lines.push(infoLine(fieldsOf(i), 'gw-1'));
        fast(fieldsOf(i));
      }
    }, during);
    expect(during).toEqual([]);
    expect(writes).toEqual([lines.join('')]);
  });

  test('a write holds whole lines and at most PIPE_BUF bytes (workers share stdout: a pipe keeps such a write in one piece)', async () => {
    const fast = fastInfo(createLogger('info', 'gw-1'))!;
    const during: string[] = [];
    const lines: string[] = [];
    // multi-byte principals: the bound counts bytes, not characters
    const fields = (i: number) => ({ ...fieldsOf(i), principal: `${'ü'.repeat(i % 40)}@contoso.com` });
    const writes = await writesOf(() => {
      for (let i = 0; i < 1000; i++) {
        lines.push(infoLine(fields(i), 'gw-1'));
        fast(fields(i));
      }
    }, during);
    expect(writes.join('')).toBe(lines.join(''));
    expect(during.length).toBeGreaterThanOrEqual(2);
    expect(writes.length).toBe(during.length + 1);
    for (const w of writes) {
      expect(Buffer.byteLength(w)).toBeLessThanOrEqual(PIPE_BUF);
      expect(w.endsWith('\n')).toBe(true);
    }
    // each write is full: it ends only when the next line would not fit
    const longest = Math.max(...lines.map((l) => Buffer.byteLength(l)));
    const total = Buffer.byteLength(lines.join(''));
    expect(writes.length).toBeLessThanOrEqual(Math.ceil(total / (PIPE_BUF - longest)) + 1);
  });

  test('a line longer than PIPE_BUF is written alone, after what was pending', async () => {
    const fast = fastInfo(createLogger('info', 'gw-1'))!;
    const long = { ...fieldsOf(1), path: `/${'a'.repeat(PIPE_BUF)}` };
    const writes = await writesOf(() => {
      fast(fieldsOf(0));
      fast(long);
      fast(fieldsOf(2));
    }, []);
    expect(writes).toEqual([infoLine(fieldsOf(0), 'gw-1'), infoLine(long, 'gw-1'), infoLine(fieldsOf(2), 'gw-1')]);
  });

  test("winston's own lines, flushLines() and the logger's end write the pending lines first", async () => {
    const logger = createLogger('info', 'gw-1');
    const fast = fastInfo(logger)!;
    const during: string[] = [];
    const out = await stdoutOf(() => {
      fast(fieldsOf(1));
      logger.warn({ msg: 'between' });
      fast(fieldsOf(2));
    });
    const order = out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l).requestId ?? JSON.parse(l).msg);
    expect(order).toEqual(['r1', 'between', 'r2']);

    await writesOf(() => {
      fast(fieldsOf(3));
      flushLines();
    }, during);
    expect(during).toEqual([infoLine(fieldsOf(3), 'gw-1')]);
    during.length = 0;
    await writesOf(() => {
      fast(fieldsOf(4));
      logger.end();
    }, during);
    expect(during[0]).toBe(infoLine(fieldsOf(4), 'gw-1'));
  });

  test('the lines of the last turn are written when the process exits in it', async () => {
    await ensureBuilt();
    const log = pathToFileURL(join(ROOT, 'dist', 'log.js')).href;
    const script = `import { createLogger, fastInfo } from ${JSON.stringify(log)};
const fast = fastInfo(createLogger('info', 'child'));
for (let i = 0; i < 3; i++) fast({ msg: 'access', requestId: 'r' + i });
process.exit(0);`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
    expect(
      stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).requestId),
    ).toEqual(['r0', 'r1', 'r2']);
  }, 300_000);
});
