import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createPseudonymiser } from '../../../src/privacy/pseudonym.js';
import { csvCell, encodeReason, isPseudonym, readPath, toCsv } from '../../../ui/src/format.js';

describe('console app helpers', () => {
  test('a reason travels in a header: ASCII as it is, everything else (and %) percent-encoded, and it decodes back', () => {
    expect(encodeReason('Case 4711: HR complaint')).toBe('Case 4711: HR complaint');
    expect(encodeReason('Prüfung 100% – 日本')).toBe('Pr%C3%BCfung 100%25 %E2%80%93 %E6%97%A5%E6%9C%AC');
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (reason) => {
        const header = encodeReason(reason);
        // a valid header value: visible ASCII and spaces only
        expect(header).toMatch(/^[\x20-\x7e]*$/);
        expect(decodeURIComponent(header)).toBe(reason);
      }),
    );
  });

  test('dot paths read nested fields and stop at anything that is not an object', () => {
    const r = { user: { userName: 'bob@contoso.com' }, n: 1 };
    expect(readPath(r, 'user.userName')).toBe('bob@contoso.com');
    expect(readPath(r, 'n.x')).toBeUndefined();
    expect(readPath(r, 'missing.deep')).toBeUndefined();
    expect(readPath(r, '')).toBe(r);
  });

  test('CSV: the SPEC columns; quotes, commas and line breaks escaped; no cell starts a spreadsheet formula', () => {
    const csv = toCsv([
      {
        seq: 1,
        time: 't',
        action: 'private-activities.viewed',
        principal: 'a@b.c',
        via: 'console',
        reason: '=HYPERLINK("x"), "quoted"\nnext',
        privateActivities: { count: 2 },
        request: { id: 'r1' },
        instance: 'gw',
        hash: 'h',
      },
    ]);
    const [head, row] = csv.split('\r\n');
    expect(head).toBe('seq,time,action,principal,via,target,count,reason,requestId,instance,hash');
    expect(row).toBe('1,t,private-activities.viewed,a@b.c,console,,2,"\'=HYPERLINK(""x""), ""quoted""\nnext",r1,gw,h');
    fc.assert(
      fc.property(fc.string(), (s) => {
        const cell = csvCell(s);
        const inner = cell.startsWith('"') ? cell.slice(1, -1).replace(/""/g, '"') : cell;
        expect(/^[=+\-@\t\r]/.test(inner)).toBe(false);
        if (/[",\r\n]/.test(inner)) expect(cell.startsWith('"') && cell.endsWith('"')).toBe(true);
      }),
    );
  });
});

describe('pseudonyms in the activity log (SPEC §14)', () => {
  test('pseudonyms of the gateway are clickable; addresses and near misses are not', () => {
    const pz = createPseudonymiser([new Uint8Array(32).fill(3)], 'pseudonym.invalid');
    fc.assert(
      fc.property(fc.emailAddress(), (a) => {
        expect(isPseudonym(pz.pseudonym(a))).toBe(true);
      }),
    );
    expect(isPseudonym('bob@contoso.com')).toBe(false);
    expect(isPseudonym('p-short@pseudonym.invalid')).toBe(false);
    expect(isPseudonym(pz.pseudonym('bob@contoso.com').toUpperCase())).toBe(false);
  });
});
