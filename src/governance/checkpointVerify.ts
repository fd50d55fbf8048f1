/**
 * `apg governance verify --checkpoints FILE --public-key PEM` (SPEC §12):
 * every checkpoint must carry a valid Ed25519 signature, and the chain must
 * still reach its seq (else: truncation) with the same hash there (else:
 * rewrite). The chain is streamed once; checkpoints are held in memory (one
 * small record each).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { compactVerify } from 'jose';
import { CHECKPOINT_TYPE } from './checkpoint.js';

export type CheckpointProblemKind = 'bad-signature' | 'malformed' | 'truncated' | 'rewritten' | 'removed';

export interface CheckpointProblem {
  /** 1-based line in the checkpoints file */
  line: number;
  /** the checkpoint's seq (read without trusting it when the signature is bad); null when unreadable */
  seq: number | null;
  kind: CheckpointProblemKind;
  message: string;
}

export interface CheckpointReport {
  /** lines that were not blank (a line with no JWS counts, as malformed) */
  checked: number;
  /** lines where a JWS was found; 0: the file holds no checkpoint */
  found: number;
  problems: CheckpointProblem[];
  /** the newest seq the chain reaches */
  chainEnd: number;
}

const JWS_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** a compact JWS inside a longer text (not part of a longer dotted name) */
const JWS_IN_TEXT = /(?<![A-Za-z0-9_.-])[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+(?![A-Za-z0-9_.-])/g;
const HEX64 = /^[0-9a-f]{64}$/;

export function loadPublicKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new Error('the public key is not a PEM key (openssl pkey -in checkpoint.pem -pubout)');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`the public key is ${key.asymmetricKeyType ?? 'unknown'}, not Ed25519`);
  // a private key given by mistake works too: createPublicKey derived its public half
  return key;
}

/** Three base64url parts whose first is a JOSE header (a JSON object with `alg`): a host name is not. */
function looksLikeJws(s: string): boolean {
  if (!JWS_RE.test(s)) return false;
  try {
    const h = JSON.parse(Buffer.from(s.slice(0, s.indexOf('.')), 'base64url').toString('utf8')) as { alg?: unknown } | null;
    return h !== null && typeof h === 'object' && typeof h.alg === 'string';
  } catch {
    return false;
  }
}

function stringsIn(v: unknown, out: string[]): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) stringsIn(x, out);
  else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) stringsIn(x, out);
  return out;
}

/**
 * The JWS on a line of a checkpoints file, whatever the line's format: a bare compact
 * JWS, the webhook body {"checkpoint":"<jws>"}, the gateway's own file beside the log
 * ({"seq":…,"jws":"<jws>"}), a syslog line whose message is the JWS, a table export.
 * A JSON line: the first string value that is a JWS; otherwise the first JWS in the
 * text. Blank lines: null; a line with no JWS: undefined.
 */
export function extractJws(line: string): string | null | undefined {
  const t = line.trim();
  if (t === '') return null;
  // the known shapes by their shape alone (a forgery there is reported as a bad signature)
  if (JWS_RE.test(t)) return t;
  if (t.startsWith('{') || t.startsWith('[')) {
    try {
      const v: unknown = JSON.parse(t);
      const o = v as { checkpoint?: unknown; jws?: unknown } | null;
      for (const k of [o?.checkpoint, o?.jws]) if (typeof k === 'string' && JWS_RE.test(k.trim())) return k.trim();
      const found = stringsIn(v, []).find((s) => looksLikeJws(s.trim()));
      if (found !== undefined) return found.trim();
    } catch {
      /* not JSON after all: look in the text */
    }
  }
  const last = t.slice(t.lastIndexOf(' ') + 1);
  if (JWS_RE.test(last)) return last; // a syslog line: the message is the JWS
  // anything else: the first JWS in the text whose first part is a JOSE header
  for (const m of t.matchAll(JWS_IN_TEXT)) if (looksLikeJws(m[0])) return m[0];
  return undefined;
}

function unverifiedSeq(jws: string): number | null {
  try {
    const payload = JSON.parse(Buffer.from(jws.split('.')[1], 'base64url').toString('utf8')) as { seq?: unknown };
    return Number.isSafeInteger(payload.seq) ? (payload.seq as number) : null;
  } catch {
    return null;
  }
}

interface Good {
  line: number;
  seq: number;
  hash: string;
}

/**
 * `chain` yields the stored entries' seq and hash in file/table order. Checks the
 * signatures first, then streams the chain once.
 */
export async function verifyCheckpoints(
  lines: Iterable<string>,
  publicKey: KeyObject,
  chain: AsyncIterable<{ seq: number; hash: string }>,
): Promise<CheckpointReport> {
  const problems: CheckpointProblem[] = [];
  const bySeq = new Map<number, Good[]>();
  let checked = 0;
  let found = 0;
  let n = 0;
  for (const raw of lines) {
    n++;
    const jws = extractJws(raw);
    if (jws === null) continue;
    checked++;
    if (jws === undefined) {
      problems.push({ line: n, seq: null, kind: 'malformed', message: 'no compact JWS on this line' });
      continue;
    }
    found++;
    let payload: { type?: unknown; seq?: unknown; hash?: unknown };
    try {
      const r = await compactVerify(jws, publicKey, { algorithms: ['EdDSA'] });
      payload = JSON.parse(new TextDecoder().decode(r.payload)) as typeof payload;
    } catch {
      problems.push({ line: n, seq: unverifiedSeq(jws), kind: 'bad-signature', message: 'not made with this key, or altered' });
      continue;
    }
    if (
      payload.type !== CHECKPOINT_TYPE ||
      !Number.isSafeInteger(payload.seq) ||
      (payload.seq as number) < 0 ||
      typeof payload.hash !== 'string' ||
      !HEX64.test(payload.hash)
    ) {
      problems.push({ line: n, seq: unverifiedSeq(jws), kind: 'malformed', message: 'signed, but not an apg.checkpoint payload' });
      continue;
    }
    const g: Good = { line: n, seq: payload.seq as number, hash: payload.hash };
    const list = bySeq.get(g.seq);
    if (list) list.push(g);
    else bySeq.set(g.seq, [g]);
  }
  let chainEnd = 0;
  const genesis = bySeq.get(0);
  for (const g of genesis ?? []) {
    if (g.hash !== '0'.repeat(64)) problems.push({ line: g.line, seq: 0, kind: 'rewritten', message: 'a checkpoint of the empty chain must carry 64 zeros' });
  }
  bySeq.delete(0);
  for await (const e of chain) {
    chainEnd = Math.max(chainEnd, e.seq);
    const list = bySeq.get(e.seq);
    if (!list) continue;
    for (const g of list) {
      if (g.hash !== e.hash) {
        problems.push({ line: g.line, seq: g.seq, kind: 'rewritten', message: 'the hash at this seq differs from the signed one' });
      }
    }
    bySeq.delete(e.seq);
  }
  for (const list of bySeq.values()) {
    for (const g of list) {
      problems.push(
        g.seq > chainEnd
          ? { line: g.line, seq: g.seq, kind: 'truncated', message: `the chain ends at seq ${chainEnd}` }
          : { line: g.line, seq: g.seq, kind: 'removed', message: 'no entry with this seq' },
      );
    }
  }
  problems.sort((a, b) => a.line - b.line);
  return { checked, found, problems, chainEnd };
}
