/**
 * The access line's fast writer (src/log.ts fastInfo/infoLine) writes exactly
 * the bytes winston writes for logger.info(fields) on a createLogger logger.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import fc from 'fast-check';
import { createLogger, fastInfo, infoLine } from '../../src/log.js';

/** Everything written to process.stdout while fn runs (winston's Console transport writes there too). */
async function stdoutOf(fn: () => void): Promise<string> {
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
    await new Promise((r) => setImmediate(r)); // winston's stream pipeline may deliver on a later tick
  } finally {
    for (const s of spies) s.mockRestore();
  }
  return out.join('');
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
