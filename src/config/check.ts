/**
 * `apg check-config` (SPEC §2, §3): every problem of a configuration in one run. The schema
 * problems, and the file problems of the parts that parsed (a section that validates is taken
 * as validated; of one that does not, only the file names that are plain non-empty strings and
 * have no problem of their own), each with its key path; plus warnings, which do not fail the
 * check: an empty `privacy.adminGroups` means nothing can tell whether a grantee is an admin
 * (SPEC §10).
 */
import { readFileSync } from 'node:fs';
import { checkConfigFiles, type FileSettings } from './files.js';
import { parseConfigWithData } from './load.js';
import { configSchema, type ConfigProblem } from './schema.js';

export interface ConfigCheck {
  problems: ConfigProblem[];
  warnings: ConfigProblem[];
}

type Raw = Record<string, unknown>;
const rec = (v: unknown): Raw => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Raw) : {});
const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const orNull = (v: unknown): string | null => text(v) ?? null;

/** The file names of a section that did not validate, as far as they are plain strings. */
function rawFiles(section: string, value: unknown): FileSettings[keyof FileSettings] {
  const r = rec(value);
  switch (section) {
    case 'identity':
      return { jwksFile: orNull(r.jwksFile) };
    case 'governance': {
      const cp = text(rec(r.checkpoint).keyFile);
      const forward = Array.isArray(r.forward) ? r.forward.map(rec) : [];
      return {
        sink: text(r.sink) ?? 'file',
        file: text(r.file),
        checkpoint: cp ? { keyFile: cp } : null,
        forward: forward.map((t) => ({ caFile: orNull(t.caFile), certFile: orNull(t.certFile), keyFile: orNull(t.keyFile) })),
      };
    }
    case 'state':
      return { store: text(r.store) ?? 'file', file: text(r.file) };
    default: {
      const ldap = rec(r.ldap);
      const graph = rec(r.graph);
      const cert = rec(graph.certificate);
      const certFile = text(cert.certFile);
      const keyFile = text(cert.keyFile);
      return {
        ldap: { tls: { caFile: orNull(rec(ldap.tls).caFile) } },
        graph: { tls: { caFile: orNull(rec(graph.tls).caFile) }, certificate: certFile && keyFile ? { certFile, keyFile } : null },
      };
    }
  }
}

const FILE_SECTIONS = ['identity', 'governance', 'state', 'directory'] as const;

/** What parsed of a configuration that did not validate: each section on its own. */
export function partialView(data: unknown): FileSettings & { privacy?: { adminGroups: readonly string[] } } {
  const raw = rec(data);
  const view: FileSettings & { privacy?: { adminGroups: readonly string[] } } = {};
  for (const section of FILE_SECTIONS) {
    const parsed = configSchema.shape[section].safeParse(raw[section]);
    Object.assign(view, { [section]: parsed.success ? parsed.data : rawFiles(section, raw[section]) });
  }
  const privacy = configSchema.shape.privacy.safeParse(raw.privacy);
  if (privacy.success) view.privacy = privacy.data;
  return view;
}

/** Warnings: true of a valid configuration, but worth saying. */
export function configWarnings(config: { privacy?: { adminGroups: readonly string[] } }): ConfigProblem[] {
  if (!config.privacy || config.privacy.adminGroups.length > 0) return [];
  return [
    {
      path: 'privacy.adminGroups',
      message: 'is empty: admin membership of grantees cannot be checked (anyone may be granted the permission); list the admin groups',
    },
  ];
}

/** Every problem and warning of config text (YAML or JSON). */
export function checkConfigText(source: string, env: NodeJS.ProcessEnv = process.env): ConfigCheck {
  const { result, data } = parseConfigWithData(source, env);
  if (result.ok) return { problems: checkConfigFiles(result.config), warnings: configWarnings(result.config) };
  if (data === undefined) return { problems: result.problems, warnings: [] };
  const view = partialView(data);
  const reported = (path: string) => result.problems.some((q) => path === q.path || path.startsWith(`${q.path}.`));
  const files = checkConfigFiles(view).filter((p) => !reported(p.path));
  return { problems: [...result.problems, ...files], warnings: configWarnings(view) };
}

/** checkConfigText of a file; an unreadable file is a problem at `(file)`. */
export function checkConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): ConfigCheck {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { problems: [{ path: '(file)', message: `cannot read ${file}${code ? ` (${code})` : ''}` }], warnings: [] };
  }
  return checkConfigText(source, env);
}
