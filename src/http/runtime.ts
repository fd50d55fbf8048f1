import type http from 'node:http';
import type { Dispatcher } from 'undici';
import type { GatewayConfig } from '../config/index.js';
import type { IdentityVerifier } from '../identity/index.js';
import type { ActivityFields } from '../privacy/extract.js';
import type { ActivityFacts } from '../privacy/types.js';
import type { FieldReader } from '../rewrite/fieldReader.js';
import type { RouteTable } from '../routes/table.js';
import type { Pseudonymiser } from '../privacy/pseudonym.js';
import type { PseudonymTargets } from '../rewrite/list.js';

/**
 * Everything a request reads that a config reload may replace, swapped as one
 * object: a request keeps the runtime it started with to its end.
 */
export interface Runtime {
  config: GatewayConfig;
  routes: RouteTable;
  /** facts of one parsed JSON record */
  extract: (record: unknown) => ActivityFacts;
  /** facts of the fields of a CSV row or CEF line */
  fromFields: (fields: ActivityFields) => ActivityFacts;
  /** facts straight from a record's bytes (same result as extract(JSON.parse(bytes))) */
  read: FieldReader;
  identity: IdentityVerifier | null;
  /** SPEC §14: the pseudonyms of this configuration's keys; null without `pseudonyms.keyFile` */
  pseudonymiser: Pseudonymiser | null;
  /** the compiled pseudonym of an actor, for the rewriters; undefined without a key */
  pseudonyms?: PseudonymTargets;
  target: URL;
  agent: http.Agent;
  /** passthrough routes' upstream leg (passUpstream.ts); without it (a target with a path) they go through http-proxy-3 */
  pool?: Dispatcher;
}
