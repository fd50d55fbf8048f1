import { describe, expect, it } from 'vitest';
import { ERRORS, GatewayError } from '../../../src/errors.js';
import { errorBody, toGatewayError } from '../../../src/http/errors.js';
import { GovernanceUnavailableError } from '../../../src/governance/types.js';
import { BodyInvalidError } from '../../../src/engine/errors.js';
import { ExportStructureError } from '../../../src/rewrite/export/index.js';
import { StateConflictError, StateNotFoundError, StateUnavailableError } from '../../../src/state/types.js';

describe('the error table', () => {
  it('has every code of SPEC §5 with its status', () => {
    const expected: Record<string, number> = {
      bad_path: 400,
      bad_reveal_header: 400,
      bad_request: 400,
      reason_required: 400,
      bad_reason: 400,
      bad_scope: 400,
      unauthenticated: 401,
      reveal_forbidden: 403,
      approval_required: 403,
      forbidden: 403,
      self_grant: 403,
      self_approval: 403,
      not_found: 404,
      route_denied: 404,
      conflict: 409,
      unknown_group: 422,
      unknown_principal: 422,
      not_an_admin: 422,
      upstream_unavailable: 502,
      upstream_body_invalid: 502,
      upstream_body_too_large: 502,
      identity_unavailable: 503,
      governance_unavailable: 503,
      state_unavailable: 503,
      directory_unavailable: 503,
      upstream_timeout: 504,
    };
    for (const [code, status] of Object.entries(expected)) expect(ERRORS[code as keyof typeof ERRORS]?.status, code).toBe(status);
    for (const row of Object.values(ERRORS)) expect(row.message.length).toBeGreaterThan(5);
  });

  it('a 401 carries WWW-Authenticate from its row; extra headers add to it', () => {
    expect(new GatewayError('unauthenticated').headers).toEqual({ 'www-authenticate': 'Bearer' });
    expect(new GatewayError('not_found').headers).toEqual({});
    expect(
      new GatewayError('unauthenticated', undefined, { headers: { 'www-authenticate': 'Bearer error="invalid_token"' } }).headers['www-authenticate'],
    ).toBe('Bearer error="invalid_token"');
  });

  it('the JSON body has code, message, requestId and details when given', () => {
    const e = new GatewayError('unknown_group', 'No group "hr2".', { details: { suggestions: ['hr'] } });
    expect(JSON.parse(errorBody(e, 'r1').toString())).toEqual({
      error: { code: 'unknown_group', message: 'No group "hr2".', requestId: 'r1', details: { suggestions: ['hr'] } },
    });
    expect(JSON.parse(errorBody(new GatewayError('conflict'), 'r2').toString())).toEqual({
      error: { code: 'conflict', message: ERRORS.conflict.message, requestId: 'r2' },
    });
  });
});

describe('domain errors carry their code', () => {
  it.each([
    [new StateUnavailableError('disk full at /var/lib/x'), 'state_unavailable', 503, 'StateUnavailableError'],
    [new StateConflictError('group hr is already private'), 'conflict', 409, 'StateConflictError'],
    [new StateNotFoundError('group x is not private'), 'not_found', 404, 'StateNotFoundError'],
    [new GovernanceUnavailableError('fsync failed'), 'governance_unavailable', 503, 'GovernanceUnavailableError'],
    [new BodyInvalidError('unexpected byte at 3'), 'upstream_body_invalid', 502, 'BodyInvalidError'],
    [new ExportStructureError('unclosed quote'), 'upstream_body_invalid', 502, 'ExportStructureError'],
  ])('%s', (err, code, status, name) => {
    const e = toGatewayError(err);
    expect(e).toBe(err);
    expect(e.code).toBe(code);
    expect(e.status).toBe(status);
    expect(e.name).toBe(name);
    expect(e).toBeInstanceOf(Error);
  });

  it('operator-only messages never reach the client', () => {
    for (const e of [
      new StateUnavailableError('state file cannot be written: EACCES /srv/state.json'),
      new GovernanceUnavailableError('write failed /srv/gov'),
      new BodyInvalidError('x at byte 9'),
    ]) {
      expect(errorBody(e, 'r').toString()).not.toMatch(/\/srv|byte 9/);
    }
    expect(JSON.parse(errorBody(new StateConflictError('group hr is already private'), 'r').toString()).error.message).toBe('group hr is already private');
  });

  it('anything else is internal_error, the original kept as cause', () => {
    const boom = new TypeError('boom');
    const e = toGatewayError(boom);
    expect(e.code).toBe('internal_error');
    expect(e.status).toBe(500);
    expect(e.cause).toBe(boom);
    expect(toGatewayError('a string').code).toBe('internal_error');
  });
});
