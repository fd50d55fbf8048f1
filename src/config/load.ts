/**
 * Turning YAML text into a validated GatewayConfig: environment expansion, YAML
 * parsing and schema validation, collecting every problem with its key path.
 * Only loadConfigFile does I/O.
 */
import { readFileSync } from 'node:fs';
import { directoryFileProblems, pseudonymKeyProblems } from './files.js';
import * as z from 'zod';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { closestKey, knownKeysAt } from './keys.js';
import { configSchema, type ConfigProblem, type GatewayConfig } from './schema.js';

export type ConfigResult = { ok: true; config: GatewayConfig } | { ok: false; problems: ConfigProblem[] };

export interface EnvProblem {
  /** 1-based, in the original text */
  line: number;
  column: number;
  /** offset in the expanded text where the reference stood (to locate its key) */
  offset: number;
  message: string;
}

const REF_RE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}\n]*))?\}/;

/**
 * Expands `${VAR}` and `${VAR:-default}` (default also when VAR is empty, as in sh);
 * `$${` is a literal `${`. An unset VAR without default, or a malformed reference, is a
 * problem (the reference expands to nothing so parsing can go on). Full-line comments
 * are left alone so they may mention the syntax.
 */
export function expandEnv(text: string, env: NodeJS.ProcessEnv = {}): { text: string; problems: EnvProblem[] } {
  const problems: EnvProblem[] = [];
  let out = '';
  let line = 1;
  let lineStart = 0;
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (i === lineStart) {
      const end = text.indexOf('\n', i);
      const lineText = text.slice(i, end === -1 ? text.length : end);
      if (/^[ \t]*#/.test(lineText)) {
        // A full-line comment: copied verbatim, so comments may show the ${VAR} syntax.
        out += lineText;
        i += lineText.length;
        continue;
      }
    }
    if (ch === '\n') {
      out += ch;
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (ch === '$' && text.startsWith('$${', i)) {
      out += '${';
      i += 3;
      continue;
    }
    if (ch === '$' && text[i + 1] === '{') {
      const column = i - lineStart + 1;
      const m = REF_RE.exec(text.slice(i, i + 4096));
      if (!m) {
        const end = text.indexOf('\n', i);
        const snippet = text.slice(i, end === -1 ? undefined : end).slice(0, 40);
        problems.push({
          line,
          column,
          offset: out.length,
          message: `malformed reference ${snippet}: use \${VAR} or \${VAR:-default}, or $\${ for a literal \${`,
        });
        out += '${';
        i += 2;
        continue;
      }
      const [whole, name, dflt] = m;
      const value = env[name];
      if (dflt !== undefined && (value === undefined || value === '')) out += dflt;
      else if (value !== undefined) out += value;
      else
        problems.push({
          line,
          column,
          offset: out.length,
          message: `environment variable ${name} is not set and has no default (set it, or write \${${name}:-default})`,
        });
      i += whole.length;
      continue;
    }
    out += ch;
    i++;
  }
  return { text: out, problems };
}

/** The dotted key path of the YAML node at `offset` (best effort, for env problems). */
function keyPathAt(node: unknown, offset: number, path: string[] = []): string[] {
  if (isMap(node)) {
    let best: (typeof node.items)[number] | undefined;
    for (const pair of node.items) {
      const k = pair.key as YamlNode | null;
      if (k && k.range && k.range[0] <= offset) best = pair;
    }
    if (!best) return path;
    const key = isScalar(best.key) ? String(best.key.value) : String(best.key);
    const value = best.value as YamlNode | null;
    if (value && (isMap(value) || isSeq(value)) && value.range && value.range[0] <= offset && offset <= value.range[2])
      return keyPathAt(value, offset, [...path, key]);
    return [...path, key];
  }
  if (isSeq(node)) {
    node.items.forEach((item, idx) => {
      const n = item as YamlNode | null;
      if (n && n.range && n.range[0] <= offset && offset <= n.range[2]) path = keyPathAt(n, offset, [...path, String(idx)]);
    });
    return path;
  }
  return path;
}

const joinPath = (p: readonly PropertyKey[]): string => (p.length ? p.map(String).join('.') : '(root)');

/** `unknown key`, with the closest key the schema knows there (`did you mean adminPrefix?`). */
function unknownKeyMessage(path: readonly PropertyKey[], key: string): string {
  const meant = closestKey(key, knownKeysAt(configSchema, path));
  return meant === undefined ? 'unknown key' : `unknown key, did you mean ${meant}?`;
}

/** zod issues -> problems; an unknown key is reported at its own path. */
function issuesToProblems(issues: readonly z.core.$ZodIssue[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const iss of issues) {
    if (iss.code === 'unrecognized_keys') {
      for (const key of iss.keys) problems.push({ path: joinPath([...iss.path, key]), message: unknownKeyMessage(iss.path, key) });
    } else {
      problems.push({ path: joinPath(iss.path), message: iss.message });
    }
  }
  return problems;
}

/** Validates config text (YAML or JSON). Reports every problem found, not just the first. */
export function parseConfig(text: string, env: NodeJS.ProcessEnv = process.env): ConfigResult {
  return parseConfigWithData(text, env).result;
}

/** parseConfig, plus the document as data (undefined when it is not YAML), for checks of the parts that did parse. */
export function parseConfigWithData(text: string, env: NodeJS.ProcessEnv = process.env): { result: ConfigResult; data: unknown } {
  const expanded = expandEnv(text, env);
  const lineCounter = new LineCounter();
  const doc = parseDocument(expanded.text, { prettyErrors: false, lineCounter, uniqueKeys: true });

  const envProblems: ConfigProblem[] = expanded.problems.map((p) => {
    const keyPath = doc.errors.length ? [] : keyPathAt(doc.contents, p.offset);
    return {
      path: keyPath.length ? keyPath.join('.') : '(env)',
      message: `line ${p.line}, column ${p.column}: ${p.message}`,
    };
  });

  if (doc.errors.length) {
    const yamlProblems = doc.errors.map((e) => {
      const pos = lineCounter.linePos(e.pos[0]);
      return { path: '(yaml)', message: `line ${pos.line}, column ${pos.col}: ${e.message}` };
    });
    return { result: { ok: false, problems: [...envProblems, ...yamlProblems] }, data: undefined };
  }

  const data: unknown = doc.toJS({ maxAliasCount: 100 });
  const result = configSchema.safeParse(data);
  // A value that came from a failed env reference would only repeat the env problem.
  const envPaths = envProblems.map((p) => p.path).filter((p) => p !== '(env)');
  const schemaProblems = result.success
    ? []
    : issuesToProblems(result.error.issues).filter((p) => !envPaths.some((e) => p.path === e || p.path.startsWith(e + '.')));
  const problems = [...envProblems, ...schemaProblems];
  if (problems.length || !result.success) return { result: { ok: false, problems }, data };
  return { result: { ok: true, config: result.data }, data };
}

/** Reads and validates a config file; an unreadable file is a problem at `(file)`. */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): ConfigResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, problems: [{ path: '(file)', message: `cannot read ${file}${code ? ` (${code})` : ''}` }] };
  }
  const r = parseConfig(text, env);
  if (!r.ok) return r;
  const problems = [...directoryFileProblems(r.config), ...pseudonymKeyProblems(r.config)];
  return problems.length ? { ok: false, problems } : r;
}

/** `--config` value, else `$APG_CONFIG`, else `config/gateway.yaml`. */
export function resolveConfigPath(argv: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (argv) return argv;
  if (env.APG_CONFIG) return env.APG_CONFIG;
  return 'config/gateway.yaml';
}

/** One line per problem: `<key path>: <message>`. */
export function formatProblems(problems: readonly ConfigProblem[]): string {
  return problems.map((p) => `${p.path}: ${p.message}`).join('\n');
}
