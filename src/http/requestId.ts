import { randomUUID } from 'node:crypto';

// A caller's id is kept only when it is short and plain, so it is safe in logs and headers.
const SANE = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdFrom(header: string | string[] | undefined): string {
  if (typeof header === 'string' && SANE.test(header)) return header;
  return randomUUID();
}
