import { describe, expect, it } from 'vitest';
import type { Clock } from '../../../src/clock.js';
import { PrivacyEngine } from '../../../src/privacy/engine.js';
import type { PrivacyStateSource, PrivacyStateView } from '../../../src/privacy/types.js';

const view: PrivacyStateView = {
  groups: [],
  permissions: [{ principal: 'Alice@Example.com', expiresAt: '2026-06-01T00:00:00Z' }, { principal: 'bob@example.com' }],
};
const source: PrivacyStateSource = { current: () => view, onChange: () => () => {} };
const options = { managedDomains: [], undecidable: 'withhold' as const, directoryGroups: {} };

describe('PrivacyEngine time', () => {
  it('isPermitted reads the injected clock: a permission stops at its expiry', () => {
    let t = Date.parse('2026-05-31T23:59:59.999Z');
    const clock: Clock = { now: () => t };
    const engine = new PrivacyEngine(options, source, clock);
    expect(engine.isPermitted('alice@example.com')).toBe(true);
    t = Date.parse('2026-06-01T00:00:00Z');
    expect(engine.isPermitted('alice@example.com')).toBe(false);
    expect(engine.isPermitted('bob@example.com')).toBe(true);
    expect(engine.isPermitted('carol@example.com')).toBe(false);
    // an explicit instant still wins over the clock
    expect(engine.isPermitted('alice@example.com', Date.parse('2026-01-01T00:00:00Z'))).toBe(true);
    engine.close();
  });

  it('without a clock it uses the system clock', () => {
    const engine = new PrivacyEngine(options, source);
    // 2026-06-01 is in the past or the future depending on today: compare with Date.now() itself
    expect(engine.isPermitted('alice@example.com')).toBe(Date.now() < Date.parse('2026-06-01T00:00:00Z'));
    engine.close();
  });
});
