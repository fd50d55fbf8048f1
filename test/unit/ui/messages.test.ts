import { describe, expect, test } from 'vitest';
import { ERROR_SENTENCES, humanError } from '../../../ui/src/errors.js';
import { countdown, pagingText } from '../../../ui/src/window.js';

const SPEC_CODES = [
  'bad_path',
  'bad_reveal_header',
  'bad_request',
  'reason_required',
  'bad_reason',
  'bad_scope',
  'unauthenticated',
  'reveal_forbidden',
  'approval_required',
  'forbidden',
  'self_grant',
  'self_approval',
  'not_found',
  'route_denied',
  'conflict',
  'unknown_group',
  'unknown_principal',
  'not_an_admin',
  'upstream_unavailable',
  'upstream_body_invalid',
  'upstream_body_too_large',
  'identity_unavailable',
  'governance_unavailable',
  'state_unavailable',
  'directory_unavailable',
  'upstream_timeout',
];

describe('errors told in words (issue 24)', () => {
  test('every SPEC §5 code has a sentence', () => {
    for (const code of SPEC_CODES) expect(ERROR_SENTENCES[code], code).toMatch(/^[A-Z].*\.$/);
  });

  test('a bad_request becomes the sentence for the key it names, never the schema text', () => {
    const raw = { status: 400, code: 'bad_request', message: 'Expected {"principal": "<UPN or e-mail address>", "groups"?: […]} (bad_request)' };
    const said = humanError(raw);
    expect(said).toMatch(/UPN or e-mail address, like/);
    expect(said).not.toMatch(/Expected|\{|bad_request/);
    expect(humanError({ status: 400, code: 'bad_request', message: '"durationMin" must be an integer from 1 to 240.' })).toBe(
      'Duration must be a whole number of minutes, from 1 to 240.',
    );
    expect(humanError({ status: 400, code: 'bad_request', message: '"expiresAt" must be in the future.' })).toMatch(/in the future/);
    expect(humanError({ status: 400, code: 'bad_request', message: 'something else entirely' })).toBe(ERROR_SENTENCES.bad_request);
  });

  test('details refine the sentence: unknown_group suggestions, an expired permission', () => {
    expect(humanError({ status: 422, code: 'unknown_group', message: 'x', details: { suggestions: [{ id: 'hr', name: 'Human Resources' }] } })).toBe(
      'This group is not in the group catalogue. Did you mean hr?',
    );
    expect(humanError({ status: 403, code: 'reveal_forbidden', message: 'The permission to view private activities expired at 2026-…' })).toMatch(/expired/);
  });

  test('an unknown code is still a sentence, by its status', () => {
    expect(humanError({ status: 503, code: 'weird', message: 'raw' })).toMatch(/Try again later/);
    expect(humanError({ status: 418, code: 'weird', message: 'raw' })).not.toContain('raw');
  });
});

describe('reveal window and paging text', () => {
  test('countdown', () => {
    expect(countdown(600_000)).toBe('10:00');
    expect(countdown(61_001)).toBe('1:02');
    expect(countdown(-5)).toBe('0:00');
    expect(countdown(3_600_000 + 62_000)).toBe('1:01:02');
  });
  test('paging text claims no positions and repeats a total only as the list reported it', () => {
    expect(pagingText(1, 10, 10422, true)).toBe('Page 1: 10 activities shown, more on the next page (the list reports 10422 in all)');
    expect(pagingText(3, 1, null, false)).toBe('Page 3: 1 activity shown, last page');
    expect(pagingText(2, 20, null, true)).not.toMatch(/of|–/);
  });
});
