/**
 * SPEC §14: pseudonyms `p-<token>@<domain>`. The token is the AES-SIV (RFC 5297,
 * @noble/ciphers) encryption of the normalised principal under the current key,
 * written in lower-case base32: deterministic per key (the same person gets the same
 * pseudonym on every instance and after restarts), injective (two principals never
 * share one), neither computable nor reversible without the key, and authenticated,
 * so resolving needs no table and recognises which key (current or previous) made it.
 * Pure: the keys come in as bytes (config/files.ts reads them).
 */
import { aessiv } from '@noble/ciphers/aes.js';
import { normalizePrincipal } from '../principal.js';

export const PSEUDONYM_KEY_BYTES = 32;

/** associated data: binds the tokens to this use of the key */
const AAD = new TextEncoder().encode('apg-pseudonym-v1');
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const TOKEN_RE = /^p-([a-z2-7]{28,})@(.+)$/;
/** the pseudonyms of recently seen principals (the hot path asks for the same few again and again) */
const CACHE_LIMIT = 10_000;

/** 32 raw bytes, or their base64 (white space around it ignored); undefined when neither. */
export function parsePseudonymKey(bytes: Uint8Array): Uint8Array | undefined {
  if (bytes.length === PSEUDONYM_KEY_BYTES) return Uint8Array.from(bytes);
  const text = Buffer.from(bytes).toString('latin1').trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  const decoded = Buffer.from(text, 'base64');
  return decoded.length === PSEUDONYM_KEY_BYTES ? Uint8Array.from(decoded) : undefined;
}

function base32(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

function unbase32(text: string): Uint8Array | undefined {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const ch of text) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) return undefined;
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >>> bits) & 255);
    }
    acc &= (1 << bits) - 1;
  }
  // the padding bits of a canonical encoding are zero
  return acc === 0 ? Uint8Array.from(out) : undefined;
}

/** What resolving a string gives: the principal, no key made it, or not the shape of a pseudonym. */
export type Resolution = { kind: 'principal'; principal: string } | { kind: 'unknown' } | { kind: 'malformed' };

export interface Pseudonymiser {
  readonly domain: string;
  /** the pseudonym of a principal (normalised first) */
  pseudonym(principal: string): string;
  /** the principal's pseudonyms under every key, current first (a report finds resolutions made before a rotation) */
  every(principal: string): string[];
  resolve(pseudonym: string): Resolution;
}

/** keys[0] is the current key (new pseudonyms); the others only resolve. */
export function createPseudonymiser(keys: readonly Uint8Array[], domain: string): Pseudonymiser {
  if (keys.length === 0) throw new Error('a pseudonymiser needs a key');
  for (const k of keys) if (k.length !== PSEUDONYM_KEY_BYTES) throw new Error(`a pseudonym key has ${PSEUDONYM_KEY_BYTES} bytes`);
  const current = keys[0];
  const dom = domain.toLowerCase();
  const cache = new Map<string, string>();
  const encoder = new TextEncoder();
  return {
    domain: dom,
    pseudonym(principal) {
      const p = normalizePrincipal(principal) ?? '';
      let out = cache.get(p);
      if (out === undefined) {
        out = `p-${base32(aessiv(current, AAD).encrypt(encoder.encode(p)))}@${dom}`;
        if (cache.size >= CACHE_LIMIT) cache.clear();
        cache.set(p, out);
      }
      return out;
    },
    every(principal) {
      const p = encoder.encode(normalizePrincipal(principal) ?? '');
      return keys.map((k) => `p-${base32(aessiv(k, AAD).encrypt(p))}@${dom}`);
    },
    resolve(pseudonym) {
      const m = TOKEN_RE.exec(pseudonym.trim().toLowerCase());
      if (m === null || m[2] !== dom) return { kind: 'malformed' };
      const sealed = unbase32(m[1]);
      if (sealed === undefined || sealed.length <= 16) return { kind: 'malformed' };
      for (const key of keys) {
        try {
          const plain = aessiv(key, AAD).decrypt(sealed);
          return { kind: 'principal', principal: new TextDecoder('utf-8', { fatal: true }).decode(plain) };
        } catch {
          // not this key's: try the next
        }
      }
      return { kind: 'unknown' };
    },
  };
}
