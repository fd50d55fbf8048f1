/**
 * Pure helpers of the Activity log (no DOM): the reveal window's countdown and the paging
 * text, which says only what the console knows (issue 24: never "1–10 of 10422" on a page
 * the gateway thinned out).
 */

/** Milliseconds left as "9:05" (minutes:seconds), or "1:02:03" past an hour; never negative. */
export function countdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/**
 * "Page 3: 17 activities shown, more on the next page". Positions are not claimed: the gateway
 * removes private activities from a page, so the rows shown are not a range of the upstream's
 * list. A total is repeated only as the list's own count, and only when the list gave one.
 */
export function pagingText(pageNumber: number, rows: number, total: number | null, hasNext: boolean): string {
  const shown = rows === 1 ? '1 activity shown' : `${rows} activities shown`;
  const more = hasNext ? ', more on the next page' : ', last page';
  const counted = total !== null ? ` (the list reports ${total} in all)` : '';
  return `Page ${pageNumber}: ${shown}${more}${counted}`;
}
