/** The configuration module: schema and types, loading and problem reporting. */
export { configSchema, DEFAULT_ROUTES, EXPORT_FORMATS, JWT_ALGORITHMS, LOG_LEVELS, ROUTE_KINDS, isPrincipal } from './schema.js';
export type {
  ActivitiesConfig,
  ConfigProblem,
  ConsoleConfig,
  DenyRoute,
  DirectoryConfig,
  ExportColumns,
  ExportFormat,
  ExportRoute,
  ForwardTargetConfig,
  CheckpointConfig,
  GatewayConfig,
  GovernanceConfig,
  IdentityConfig,
  ItemRoute,
  ListRoute,
  PassthroughRoute,
  PrivacyConfig,
  RouteConfig,
  RouteKind,
  StateConfig,
} from './schema.js';
export { readPseudonymKey } from './files.js';
export { expandEnv, formatProblems, loadConfigFile, parseConfig, resolveConfigPath } from './load.js';
export type { ConfigResult, EnvProblem } from './load.js';
