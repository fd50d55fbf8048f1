/**
 * The shape of src/ (docs/ARCHITECTURE.md "Checked habits"): no function is longer than
 * 80 lines — a factory is a list of parts, not a program — outside src/demo/ and the byte
 * scanners, whose one loop per grammar is clearer whole. A function's length counts the
 * functions inside it. `npx vitest run test/unit/shape.test.ts` prints the longest ones.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LIMIT = 80;
/** the byte scanners: one state machine each */
const SCANNERS = new Set(['src/engine/jsonScan.ts:scan', 'src/rewrite/export/jsonArray.ts:JsonArrayParser.scan', 'src/rewrite/export/cef.ts:readCefEvent']);

interface Fn {
  where: string;
  name: string;
  lines: number;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : /\.tsx?$/.test(e.name) ? [p] : [];
  });
}

function nameOf(node: ts.Node, owner: string | undefined, sf: ts.SourceFile): string {
  const prefix = owner ? `${owner}.` : '';
  if ((ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isGetAccessor(node)) && node.name) return prefix + node.name.getText(sf);
  if (ts.isConstructorDeclaration(node)) return `${prefix}constructor`;
  const p = node.parent;
  if (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p)) return prefix + p.name.getText(sf);
  return `${prefix}(anonymous)`;
}

function functionsOf(file: string): Fn[] {
  const rel = path.relative(ROOT, file);
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: Fn[] = [];
  const visit = (node: ts.Node, owner: string | undefined): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.end).line;
      out.push({ where: `${rel}:${start + 1}`, name: nameOf(node, owner, sf), lines: end - start + 1 });
    }
    const next = ts.isClassDeclaration(node) && node.name ? node.name.text : owner;
    ts.forEachChild(node, (c) => visit(c, next));
  };
  visit(sf, undefined);
  return out;
}

describe('the shape of src/', () => {
  it(`no function outside src/demo/ and the scanners is longer than ${LIMIT} lines`, () => {
    const all = sources(path.join(ROOT, 'src')).flatMap(functionsOf);
    const counted = all.filter((f) => !f.where.startsWith('src/demo/') && !SCANNERS.has(`${f.where.split(':')[0]}:${f.name}`));
    const longest = [...counted].sort((a, b) => b.lines - a.lines);
    console.log(
      longest
        .slice(0, 8)
        .map((f) => `${f.lines}\t${f.where}\t${f.name}`)
        .join('\n'),
    );
    expect(longest.filter((f) => f.lines > LIMIT).map((f) => `${f.where} ${f.name}: ${f.lines} lines`)).toEqual([]);
    // the exemptions name functions that exist, so a renamed scanner cannot slip out of the rule
    for (const s of SCANNERS)
      expect(
        all.some((f) => `${f.where.split(':')[0]}:${f.name}` === s),
        s,
      ).toBe(true);
  });
});
