/**
 * Canonical JSON for the governance hash chain (SPEC §6): object keys sorted
 * (default JS sort = UTF-16 code units) at every depth, no whitespace, scalars
 * exactly as JSON.stringify writes them, undefined members omitted.
 * Any implementation (file sink, Postgres sink, external auditors) must agree
 * byte for byte, so this deliberately mirrors JSON.stringify's rules.
 */
export function canonicalJson(value: unknown): string {
  const out = serialize(value, false);
  if (out === undefined) throw new TypeError('canonicalJson: value is not serialisable');
  return out;
}

function serialize(value: unknown, inArray: boolean): string | undefined {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON: () => unknown }).toJSON();
  }
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return JSON.stringify(value);
    case 'bigint':
      throw new TypeError('canonicalJson: BigInt is not serialisable');
    case 'undefined':
    case 'function':
    case 'symbol':
      // JSON.stringify: omitted as a member, null inside arrays
      return inArray ? 'null' : undefined;
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    return '[' + value.map((v) => serialize(v, true)).join(',') + ']';
  }
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(obj).sort()) {
    const v = serialize(obj[key], false);
    if (v !== undefined) parts.push(JSON.stringify(key) + ':' + v);
  }
  return '{' + parts.join(',') + '}';
}
