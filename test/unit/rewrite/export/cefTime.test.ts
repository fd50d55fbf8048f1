/**
 * Issue 21 (SPEC §4 export `cef`, v3): a CEF time that reads as before 2000-01-01 — typically
 * an epoch in seconds read as milliseconds, i.e. January 1970 — is not a time: it would put
 * every event before any `privateSince` and so make it public. Such an event is undecidable
 * (withheld unless `privacy.undecidable: show`).
 */
import { describe, expect, test } from 'vitest';
import { compileFieldsExtractor } from '../../../../src/privacy/extract.js';
import type { ActivityFacts } from '../../../../src/privacy/types.js';
import { type ExportFilterOptions, type Op } from '../../../../src/rewrite/export/index.js';
import { cefParser } from '../../../../src/rewrite/export/cef.js';
import { run } from '../../../helpers/exportHarness.js';

const fromFields = compileFieldsExtractor({
  id: '_id',
  timestamp: 'timestamp',
  actor: 'userName',
  groups: 'userTags',
  application: null,
  builtinTags: {},
});
const HR_SINCE = Date.parse('2026-03-01T00:00:00Z');
/** the demo policy in short: bob is in hr, private since 2026-03-01; no readable time is undecidable → withheld */
const hide = (fs: readonly ActivityFacts[]): boolean[] =>
  fs.map((f) => f.timestamp === undefined || (f.actor === 'bob@contoso.com' && f.timestamp >= HR_SINCE));
const options: ExportFilterOptions = {
  format: 'cef',
  extract: () => {
    throw new Error('not used');
  },
  fromFields,
  csvColumns: { actor: [], timestamp: '', groups: [] },
  hide,
};
const line = (user: string, time: string) => `CEF:0|Vendor|Product|1.0|100|login|3|suser=${user} ${time} msg=hello\n`;

function facts(l: string): ActivityFacts | null {
  const out: Op[] = [];
  const p = cefParser({ fromFields, maxRecordBytes: 1 << 20 });
  p.push(Buffer.from(l), out);
  p.end(out);
  const rec = out.find((o) => o.kind === 'record');
  if (rec?.kind !== 'record') throw new Error('no record');
  return rec.facts;
}

describe('CEF: implausible times make the event undecidable', () => {
  const nov2026Seconds = String(Date.parse('2026-11-26T10:00:00Z') / 1000);

  test('bob’s private event with an epoch in seconds is withheld, not shown as a 1970 event', async () => {
    const src = line('bob@contoso.com', `rt=${nov2026Seconds}`) + line('alice@contoso.com', 'rt=1795687200000');
    const r = await run(options, [Buffer.from(src)]);
    expect(r.err).toBeNull();
    expect(r.out.toString()).toBe(line('alice@contoso.com', 'rt=1795687200000'));
  });

  test('every form that reads as before 2000-01-01 is no time; from 2000-01-01 on, times are read', () => {
    for (const t of [
      `rt=${nov2026Seconds}`,
      `start=${nov2026Seconds}`,
      'rt=0',
      'rt=946684799999',
      'rt=1999-12-31T23:59:59.999Z',
      'rt=Dec 31 1999 23:59:59 UTC',
      'start=Jan 01 2000 00:30:00 +01:00',
    ]) {
      expect(facts(line('alice@contoso.com', t))?.timestamp, t).toBeUndefined();
    }
    expect(facts(line('alice@contoso.com', 'rt=946684800000'))?.timestamp).toBe(946684800000);
    expect(facts(line('alice@contoso.com', 'rt=2000-01-01T00:00:00Z'))?.timestamp).toBe(946684800000);
    expect(facts(line('alice@contoso.com', 'rt=Nov 26 2026 10:00:00 UTC'))?.timestamp).toBe(Date.parse('2026-11-26T10:00:00Z'));
  });

  test('an implausible rt is not saved by a plausible start (fail closed)', () => {
    expect(facts(line('alice@contoso.com', `rt=${nov2026Seconds} start=1795687200000`))?.timestamp).toBeUndefined();
  });
});
