import client from 'prom-client';
import { SlotCounter, SlotHistogram } from './metricSlots.js';

/**
 * One registry per gateway instance (tests run several in one process).
 * Labels carry route kinds, status codes and outcomes only: never a principal,
 * an activity id or a path with an id in it. Metrics are registered in this order
 * (the order of the exposition).
 */
export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  return {
    registry,
    ...requestMetrics(registry),
    ...governanceWriteMetrics(registry),
    ...edgeMetrics(registry),
    ...directoryMetrics(registry),
    ...forwardMetrics(registry),
    ...consoleMetrics(registry),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Requests, removed activities and reveals (SPEC §4). */
export function requestMetrics(registry: client.Registry) {
  // counted per request: plain slots, added to the counters at scrape time (metricSlots.ts)
  const requests = new SlotCounter({
    name: 'apg_requests_total',
    help: 'Requests by route kind and status',
    labelNames: ['kind', 'status'] as const,
    registers: [registry],
  });
  const removed = new SlotCounter({
    name: 'apg_activities_removed_total',
    help: 'Private activities removed, by route kind',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const reveals = new client.Counter({
    name: 'apg_reveals_total',
    help: 'Reveal requests by outcome',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  return { requests, removed, reveals };
}

/** Governance entry writes. */
export function governanceWriteMetrics(registry: client.Registry) {
  const governanceLatency = new client.Histogram({
    name: 'apg_governance_write_seconds',
    help: 'Governance entry write latency',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2],
    registers: [registry],
  });
  const governanceFailures = new client.Counter({
    name: 'apg_governance_write_failures_total',
    help: 'Governance writes that failed or timed out',
    registers: [registry],
  });
  return { governanceLatency, governanceFailures };
}

/** The upstream, path normalisation, reloads and exports. */
export function edgeMetrics(registry: client.Registry) {
  // observed per request: plain slots, added to the histogram at scrape time (metricSlots.ts)
  const upstreamLatency = new SlotHistogram({
    name: 'apg_upstream_response_seconds',
    help: 'Time to upstream response headers, by route kind',
    labelNames: ['kind'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const pathRejections = new client.Counter({
    name: 'apg_path_rejections_total',
    help: 'Requests rejected by path normalisation, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const reloads = new client.Counter({
    name: 'apg_config_reloads_total',
    help: 'Configuration reloads by result',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const exportCutoffs = new client.Counter({
    name: 'apg_export_cutoffs_total',
    help: 'Exports cut off because the upstream stream was broken',
    registers: [registry],
  });
  return { upstreamLatency, pathRejections, reloads, exportCutoffs };
}

/** Per directory source (ldap | graph | http); outcome hit | miss | stale | failure — never a principal or group. */
export function directoryMetrics(registry: client.Registry) {
  const directoryLookups = new client.Counter({
    name: 'apg_directory_lookups_total',
    help: 'Directory membership lookups by source and outcome (hit, miss, stale, failure)',
    labelNames: ['source', 'outcome'] as const,
    registers: [registry],
  });
  const directoryLatency = new client.Histogram({
    name: 'apg_directory_lookup_seconds',
    help: 'Latency of directory calls (cache misses) by source',
    labelNames: ['source'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const directoryCatalogue = new client.Counter({
    name: 'apg_directory_catalogue_loads_total',
    help: 'Group catalogue list loads by source and outcome',
    labelNames: ['source', 'outcome'] as const,
    registers: [registry],
  });
  return { directoryLookups, directoryLatency, directoryCatalogue };
}

/** SPEC §12; the label is the configured target name, never anything from an entry. */
export function forwardMetrics(registry: client.Registry) {
  const forwardLag = new client.Gauge({
    name: 'apg_governance_forward_lag',
    help: 'Governance entries committed but not yet delivered, per forward target',
    labelNames: ['target'] as const,
    registers: [registry],
  });
  const forwardFailures = new client.Counter({
    name: 'apg_governance_forward_failures_total',
    help: 'Failed governance delivery attempts, per forward target',
    labelNames: ['target'] as const,
    registers: [registry],
  });
  return { forwardLag, forwardFailures };
}

/** SPEC §13: sign-ins to the admin console by outcome (ok, not_admin, refused, provider_unavailable). */
export function consoleMetrics(registry: client.Registry) {
  const consoleSignIns = new client.Counter({
    name: 'apg_console_signins_total',
    help: 'Admin console sign-ins by outcome',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  return { consoleSignIns };
}
