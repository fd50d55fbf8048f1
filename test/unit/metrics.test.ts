/** The metrics registry: every group registered once, in a fixed order, labels without principals. */
import { describe, expect, it } from 'vitest';
import client from 'prom-client';
import { createMetrics, directoryMetrics } from '../../src/metrics.js';

const OURS = [
  'apg_requests_total',
  'apg_activities_removed_total',
  'apg_reveals_total',
  'apg_governance_write_seconds',
  'apg_governance_write_failures_total',
  'apg_upstream_response_seconds',
  'apg_path_rejections_total',
  'apg_config_reloads_total',
  'apg_export_cutoffs_total',
  'apg_directory_lookups_total',
  'apg_directory_lookup_seconds',
  'apg_directory_catalogue_loads_total',
  'apg_governance_forward_lag',
  'apg_governance_forward_failures_total',
  'apg_console_signins_total',
];

describe('createMetrics', () => {
  it('registers the gateway metrics in their order, after the default ones', async () => {
    const m = createMetrics();
    const names = (await m.registry.getMetricsAsJSON()).map((x) => x.name).filter((n) => n.startsWith('apg_'));
    expect(names).toEqual(OURS);
  });

  it('exposes every metric by its field name', () => {
    const m = createMetrics();
    expect(Object.keys(m).sort()).toEqual(
      [
        'registry',
        'requests',
        'removed',
        'reveals',
        'governanceLatency',
        'governanceFailures',
        'upstreamLatency',
        'pathRejections',
        'reloads',
        'exportCutoffs',
        'directoryLookups',
        'directoryLatency',
        'directoryCatalogue',
        'forwardLag',
        'forwardFailures',
        'consoleSignIns',
      ].sort(),
    );
  });

  it('two gateways in one process do not share a registry', () => {
    const a = createMetrics();
    const b = createMetrics();
    a.requests.inc({ kind: 'list', status: '200' });
    expect(a.registry).not.toBe(b.registry);
  });
});

describe('directoryMetrics', () => {
  it('labels by source and outcome only', async () => {
    const registry = new client.Registry();
    const d = directoryMetrics(registry);
    d.directoryLookups.inc({ source: 'ldap', outcome: 'hit' });
    const text = await registry.metrics();
    expect(text).toContain('apg_directory_lookups_total{source="ldap",outcome="hit"} 1');
  });
});
