import { describe, expect, it } from 'vitest';
import { checkApproval, type RevealRequest } from '../../../src/privacy/approval.js';

const base: RevealRequest = {
  id: 'r1',
  status: 'approved',
  requester: 'alice@contoso.com',
  reason: 'case 4711 review',
  durationMin: 30,
  createdAt: '2026-12-01T09:00:00.000Z',
  approvedBy: 'dpo@contoso.com',
  validFrom: '2026-12-01T09:05:00.000Z',
  validUntil: '2026-12-01T09:35:00.000Z',
};
const at = (s: string) => Date.parse(s);

describe('may a reveal use this request now?', () => {
  it('inside [validFrom, validUntil) for the requester only, whatever the case of the principal', () => {
    expect(checkApproval('r1', base, 'Alice@Contoso.com', at('2026-12-01T09:05:00.000Z')).ok).toBe(true);
    expect(checkApproval('r1', base, 'alice@contoso.com', at('2026-12-01T09:34:59.999Z')).ok).toBe(true);
  });
  it('says why not', () => {
    const why = (id: string | undefined, r: RevealRequest | undefined, p: string, t: string) => {
      const c = checkApproval(id, r, p, at(t));
      return c.ok ? 'ok' : c.message;
    };
    expect(why(undefined, base, 'alice@contoso.com', '2026-12-01T09:10:00Z')).toMatch(/must name/);
    expect(why('zz', undefined, 'alice@contoso.com', '2026-12-01T09:10:00Z')).toMatch(/does not exist/);
    expect(why('r1', base, 'carl@contoso.com', '2026-12-01T09:10:00Z')).toMatch(/someone else/);
    expect(why('r1', { ...base, status: 'pending' }, 'alice@contoso.com', '2026-12-01T09:10:00Z')).toMatch(/pending/);
    expect(why('r1', { ...base, status: 'denied' }, 'alice@contoso.com', '2026-12-01T09:10:00Z')).toMatch(/denied/);
    expect(why('r1', base, 'alice@contoso.com', '2026-12-01T09:04:59.999Z')).toMatch(/not opened/);
    expect(why('r1', base, 'alice@contoso.com', '2026-12-01T09:35:00.000Z')).toMatch(/closed/);
    expect(why('r1', { ...base, validUntil: 'garbage' }, 'alice@contoso.com', '2026-12-01T09:10:00Z')).toMatch(/closed/);
  });
});
