/**
 * Errors told in words (issue 24): a sentence from the error's code and details, never the
 * API's raw message (which may hold schema text such as `Expected {"principal": …}`).
 * Pure: unit-testable, no DOM.
 */

export interface ErrorLike {
  status: number;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** One sentence per code of SPEC §5 (and the console's own). */
export const ERROR_SENTENCES: Record<string, string> = {
  bad_path: 'The console asked for a path the gateway does not accept. Reload the page and try again.',
  bad_reveal_header: 'The gateway did not accept the confirmation to show private activities. Reload the page and try again.',
  bad_request: 'The gateway did not accept what was entered. Check the fields and try again.',
  reason_required: 'Give a reason: the gateway records why before it shows private activities or reports about a person.',
  bad_reason: 'The reason cannot be used: keep it under 500 characters, without control characters.',
  bad_scope: 'The scope cannot be used: name groups from the catalogue and users by their UPN or e-mail address.',
  unauthenticated: 'Your console session has ended. Sign in again.',
  reveal_forbidden: 'You do not hold the permission to view private activities. Ask an administrator to grant it on the tab Admin access.',
  approval_required: 'Showing private activities needs an approved reveal request that is valid now. Pick one, or create one on the tab Reveal requests.',
  forbidden: 'You are not allowed to do this.',
  self_grant: 'You cannot give the permission to yourself: another administrator has to grant it.',
  self_approval: 'You cannot approve or deny your own request: another approver has to decide it.',
  not_found: 'It is no longer there: someone may have changed it in the meantime. Reload the list.',
  route_denied: 'The gateway does not serve this.',
  method_not_allowed: 'The gateway does not allow this action here.',
  conflict: 'This has already been done, or someone changed it in the meantime. Reload the list.',
  unknown_group: 'This group is not in the group catalogue.',
  unknown_principal: 'The directory has no user with this name. Check the UPN or e-mail address.',
  not_an_admin: 'This person is not an admin: only members of the admin groups can be given the permission.',
  internal_error: 'The gateway failed to handle this; nothing was changed and nothing private was sent. Try again.',
  upstream_unavailable: 'The activity log cannot be reached right now. Try again later.',
  upstream_body_invalid: 'The activity log answered with something the gateway cannot filter, so nothing was shown.',
  upstream_body_too_large: 'The activity log answered with too much at once, so nothing was shown.',
  upstream_timeout: 'The activity log did not answer in time. Try again.',
  identity_unavailable: 'The identity provider cannot be reached, so private activities cannot be shown now. Try again later.',
  governance_unavailable: 'The governance log cannot be written now, so nothing private was shown. Try again later.',
  state_unavailable: 'The change cannot be stored now; nothing was changed. Try again later.',
  directory_unavailable: 'The directory cannot be reached, so the check that needs it cannot be made now. Try again later.',
  network: 'The gateway cannot be reached. Check your connection and try again.',
};

/** Which field a bad_request is about: the gateway's message names the offending key in quotes. */
const FIELD_SENTENCES: [RegExp, string][] = [
  [/"principal"|principal/, 'Enter the person as a UPN or e-mail address, like name@contoso.com.'],
  [/"expiresAt".*future|in the future/, 'Expires must be a date and time in the future.'],
  [/"expiresAt"/, 'Expires is not a valid date and time.'],
  [/"groups"|"scope\.groups"/, 'One of the groups cannot be used: pick groups from the catalogue.'],
  [/"scope"/, 'The scope cannot be used: name groups from the catalogue and users by their UPN or e-mail address.'],
  [/"durationMin".*from 1 to (\d+)/, 'Duration must be a whole number of minutes, from 1 to $1.'],
  [/"durationMin"/, 'Duration must be a whole number of minutes.'],
  [/"reason"/, 'Give a longer reason (see the hint under the box), without control characters.'],
  [/"comment"/, 'The comment cannot be used: keep it short, without control characters.'],
  [/"id"|"name"/, 'The group id or name cannot be used: no control characters, and an id the directory knows.'],
];

function list(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  return v.map((x) => (typeof x === 'string' ? x : typeof x === 'object' && x !== null && 'id' in x ? String((x as { id: unknown }).id) : '')).filter(Boolean);
}

/** The sentence for an API error: by code, refined by its details (or the key its message names). */
export function humanError(err: ErrorLike): string {
  if (err.code === 'bad_request') {
    for (const [re, sentence] of FIELD_SENTENCES) {
      const m = re.exec(err.message);
      if (m) return sentence.replace('$1', m[1] ?? '');
    }
    return ERROR_SENTENCES.bad_request;
  }
  if (err.code === 'reveal_forbidden' && /expired/i.test(err.message))
    return 'Your permission to view private activities has expired. Ask an administrator to grant it again.';
  if (err.code === 'reveal_forbidden' && /no admin role/i.test(err.message)) return 'Showing private activities needs an admin role.';
  if (err.code === 'unknown_group') {
    const suggestions = list(err.details?.suggestions);
    return suggestions.length > 0 ? `${ERROR_SENTENCES.unknown_group} Did you mean ${suggestions.slice(0, 3).join(', ')}?` : ERROR_SENTENCES.unknown_group;
  }
  const known = ERROR_SENTENCES[err.code];
  if (known) return known;
  if (err.status >= 500) return 'The gateway could not do this now. Try again later.';
  if (err.status === 401) return ERROR_SENTENCES.unauthenticated;
  if (err.status === 403) return ERROR_SENTENCES.forbidden;
  return 'The gateway refused this. Check what was entered and try again.';
}
