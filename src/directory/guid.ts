/**
 * Group ids read from an LDAP attribute (SPEC §9 `groupIdAttribute`). Pure.
 *
 * Active Directory's objectGUID is 16 bytes; its usual text form is the Microsoft GUID
 * layout, whose first three fields are little-endian: bytes 00 11 22 33 44 55 66 77 88 …
 * read as 33221100-5544-7766-8899-aabbccddeeff. Any other attribute (entryUUID, a name)
 * is taken as UTF-8 text. A value that is neither is malformed: the caller skips it.
 */

/** Attributes whose values are binary GUIDs. */
export function isBinaryGuidAttribute(attribute: string): boolean {
  return attribute.toLowerCase() === 'objectguid';
}

/** The GUID text (lower case) of 16 bytes in Microsoft's mixed-endian layout. */
export function guidText(bytes: Uint8Array): string | undefined {
  if (bytes.length !== 16) return undefined;
  const h = (i: number) => bytes[i].toString(16).padStart(2, '0');
  const run = (idx: number[]) => idx.map(h).join('');
  return `${run([3, 2, 1, 0])}-${run([5, 4])}-${run([7, 6])}-${run([8, 9])}-${run([10, 11, 12, 13, 14, 15])}`;
}

const MAX_ID_LENGTH = 256;

/** The id of one attribute value, or undefined when the value is malformed. */
export function groupIdFrom(attribute: string, value: Buffer | string): string | undefined {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  if (isBinaryGuidAttribute(attribute)) return guidText(bytes);
  const text = bytes.toString('utf8');
  if (text === '' || text.length > MAX_ID_LENGTH || text !== text.trim()) return undefined;
  if (!Buffer.from(text, 'utf8').equals(bytes)) return undefined; // not valid UTF-8
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(text)) return undefined;
  return text;
}

/** The 16 bytes of a GUID text (inverse of guidText); undefined when it is not one. */
export function guidBytes(text: string): Buffer | undefined {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text)) return undefined;
  const b = Buffer.from(text.replace(/-/g, ''), 'hex');
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  return Buffer.from(order.map((i) => b[i]));
}
