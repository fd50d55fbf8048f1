import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createPseudonymiser } from '../../../src/privacy/pseudonym.js';
import { pseudonymiseJsonRecord, pseudonymiseTextRecord, pseudonymTarget, replaceInJson, type Replacement } from '../../../src/rewrite/pseudonymise.js';
import { oracleReplace, oracleRewrite } from '../../helpers/pseudonymOracle.js';

const key = new Uint8Array(32).fill(7);
const pz = createPseudonymiser([key], 'pseudonym.invalid');
const HENRY = 'henry@contoso.com';
const target = pseudonymTarget(HENRY, pz.pseudonym(HENRY));
const P = pz.pseudonym(HENRY);

const rewrite = (text: string): string => pseudonymiseJsonRecord(Buffer.from(text), target).toString();

describe('pseudonymiseJsonRecord (SPEC §14)', () => {
  it('replaces the actor in string values, keeps everything else byte for byte', () => {
    const rec = '{ "actor" : "henry@contoso.com",\n "d":"Henry@Contoso.COM logged in", "u":"https://x/?u=henry%40contoso.com&y", "n": 12 }';
    expect(rewrite(rec)).toBe(`{ "actor" : "${P}",\n "d":"${P} logged in", "u":"https://x/?u=${P.replace('@', '%40')}&y", "n": 12 }`);
  });

  it('respects address boundaries and leaves other people and keys alone', () => {
    const rec = '{"henry@contoso.com":"xhenry@contoso.com henry@contoso.com.au henry@contoso.com, eve@contoso.com"}';
    expect(rewrite(rec)).toBe(`{"henry@contoso.com":"xhenry@contoso.com henry@contoso.com.au ${P}, eve@contoso.com"}`);
  });

  it('finds JSON-escaped spellings', () => {
    const rec = '{"a":"henry\\u0040contoso.com","b":"\\u0068enry@contoso.com\\n","c":"henry@contoso\\u002Ecom"}';
    expect(rewrite(rec)).toBe(`{"a":"${P}","b":"${P}\\n","c":"${P}"}`);
  });

  it('returns the same buffer when nothing matches', () => {
    const b = Buffer.from('{"actor":"eve@contoso.com"}');
    expect(pseudonymiseJsonRecord(b, target)).toBe(b);
  });

  it('CSV and CEF text: the cells and extension values holding it', () => {
    expect(pseudonymiseTextRecord(Buffer.from('1,"Henry@contoso.com",x henry%40contoso.com\n'), target).toString()).toBe(
      `1,"${P}",x ${P.replace('@', '%40')}\n`,
    );
  });
});

// ---------- property: byte rewriting equals the JSON.parse-based oracle ----------

const PIECES = [
  HENRY,
  'HENRY@CONTOSO.COM',
  'henry%40contoso.com',
  'Henry%40Contoso.com',
  'xhenry@contoso.com',
  'henry@contoso.com.au',
  'eve@contoso.com',
  'henry',
  '@contoso.com',
  ' ',
  '.',
  '-',
  '+',
  '/',
  '"',
  '\\',
  'é',
  '😀',
  '\n',
  '%',
  '%4',
  'a',
  '1',
  '_',
];

const text = fc.array(fc.constantFrom(...PIECES), { maxLength: 8 }).map((p) => p.join(''));
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    text,
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(text, tie('v'), { maxKeys: 4 }),
  ),
})).v;

/** JSON text with escapes spread over it: some characters written \uXXXX, some solidi escaped */
function mutate(json: string, seed: number): string {
  let out = '';
  let inString = false;
  let rnd = seed;
  for (let i = 0; i < json.length; i++) {
    const ch = json[i];
    rnd = (rnd * 1103515245 + 12345) & 0x7fffffff;
    if (inString && ch === '\\') {
      out += ch + json[++i];
      continue;
    }
    if (ch === '"') inString = !inString;
    if (inString && ch !== '"' && rnd % 7 === 0 && ch.charCodeAt(0) < 0xd800)
      out +=
        '\\u' +
        ch
          .charCodeAt(0)
          .toString(16)
          .padStart(4, rnd % 2 ? '0' : '0')
          .toUpperCase();
    else if (inString && ch === '/' && rnd % 2 === 0) out += '\\/';
    else out += ch;
  }
  return out;
}

describe('pseudonymiseJsonRecord against the oracle', () => {
  it('parses to the oracle rewrite; outside the replaced spans the bytes are the input', () => {
    fc.assert(
      fc.property(fc.dictionary(text, value, { maxKeys: 6 }), fc.integer({ min: 0, max: 1e6 }), fc.boolean(), (rec, seed, pretty) => {
        const json = mutate(JSON.stringify(rec, null, pretty ? 2 : undefined), seed);
        const input = Buffer.from(json);
        const out = pseudonymiseJsonRecord(input, target);
        expect(JSON.parse(out.toString())).toEqual(oracleRewrite(JSON.parse(json), HENRY, P));
        // byte for byte: the input with exactly the reported spans replaced
        const reps: Replacement[] = [];
        replaceInJson(input, 0, input.length, target, reps);
        let rebuilt = '';
        let at = 0;
        for (const r of reps) {
          rebuilt += input.toString('utf8', at, r.start) + r.with.toString();
          at = r.end;
        }
        expect(out.toString()).toBe(rebuilt + input.toString('utf8', at));
        if (reps.length === 0) expect(out).toBe(input);
      }),
      { numRuns: 400 },
    );
  });

  it('text records follow the same rule as the oracle (ASCII fast path and the general walk)', () => {
    const ascii = fc
      .array(fc.constantFrom(...PIECES.filter((p) => [...p].every((c) => c.charCodeAt(0) < 0x80)), '%40', '@', 'hEnRy'), { maxLength: 10 })
      .map((p) => p.join(''));
    fc.assert(
      fc.property(fc.oneof(text, ascii), (t) => {
        expect(pseudonymiseTextRecord(Buffer.from(t), target).toString()).toBe(oracleReplace(t, HENRY, P));
      }),
      { numRuns: 1000 },
    );
  });
});
