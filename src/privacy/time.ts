/**
 * Activity timestamps: epoch milliseconds (a JSON number) or an ISO-8601 date-time
 * string WITH an offset. Anything else is unreadable (undefined), which the decision
 * turns into 'undecidable' — fail closed rather than guess a time zone.
 *
 * Decisions (documented in the README-facing report):
 * - Numbers: any finite value in [0, 8.64e15] (the Date range), fractions kept as-is.
 *   Negative numbers are rejected: an activity before 1970 is a corrupt record, not a
 *   time we should call "before privateSince" and therefore public.
 * - Strings: YYYY-MM-DDThh:mm[:ss[.fraction]] followed by Z, ±hh:mm, ±hhmm or ±hh.
 *   'T' may be 't' or a space (RFC 3339). Impossible dates/times (2026-02-30, 24:00,
 *   leap second :60) are rejected. Sub-millisecond fractions are kept as fractional ms.
 * - CEF date forms (parseCefDate, CEF feeds only): `MMM dd yyyy HH:mm:ss[.SSS][ zone]` as
 *   ArcSight and Check Point devices send them; zone `Z`, `UTC`, `GMT`, `±hh[:mm]` or
 *   `UTC±hh[:mm]` / `GMT±hh[:mm]`. Without a zone the time is read as UTC. Zone names
 *   such as `CET` or `EST` are ambiguous and unreadable.
 */

const MAX_MS = 8.64e15;
const ISO = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)$/;

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/**
 * An ISO-8601 date-time with an offset as epoch ms, or undefined: the one parser of the
 * configuration, the admin API and activity timestamps.
 */
export function parseIsoTimestamp(s: string): number | undefined {
  const m = ISO.exec(s);
  if (m === null) return undefined;
  const year = +m[1];
  const month = +m[2];
  const day = +m[3];
  const hour = +m[4];
  const minute = +m[5];
  const second = m[6] === undefined ? 0 : +m[6];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMin = 0;
  if (m[8] === undefined) {
    const oh = +m[10];
    const om = m[11] === undefined ? 0 : +m[11];
    if (oh > 23 || om > 59) return undefined;
    offsetMin = (oh * 60 + om) * (m[9] === '-' ? -1 : 1);
  }
  // Date.UTC would map years 0..99 to 1900..1999; pre-1970 values are rejected anyway.
  if (year < 1969) return undefined;
  const base = Date.UTC(year, month - 1, day, hour, minute, second);
  const frac = m[7] === undefined ? 0 : Number('0.' + m[7]) * 1000;
  const ms = base + frac - offsetMin * 60000;
  return ms >= 0 && ms <= MAX_MS ? ms : undefined;
}

/** epoch ms, or undefined when the value is not a readable timestamp */
export function parseTimestamp(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 && v <= MAX_MS ? v : undefined;
  if (typeof v === 'string') return parseIsoTimestamp(v);
  return undefined;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const CEF_DATE = /^([A-Za-z]{3}) (\d{1,2}) (\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(?: (?:([Zz]|UTC|GMT)|(?:UTC|GMT)?([+-])(\d{2})(?::?(\d{2}))?))?$/;

/** A CEF date (`MMM dd yyyy HH:mm:ss[.SSS][ zone]`, no zone = UTC) as epoch ms, or undefined. */
export function parseCefDate(s: string): number | undefined {
  const m = CEF_DATE.exec(s);
  if (m === null) return undefined;
  const month = MONTHS.indexOf(m[1].toLowerCase()) + 1;
  if (month === 0) return undefined;
  const pad = (v: string): string => v.padStart(2, '0');
  const zone = m[9] === undefined ? 'Z' : `${m[9]}${m[10]}:${m[11] ?? '00'}`;
  const frac = m[7] === undefined ? '' : `.${m[7]}`;
  return parseIsoTimestamp(`${m[3]}-${pad(String(month))}-${pad(m[2])}T${m[4]}:${m[5]}:${m[6]}${frac}${zone}`);
}
