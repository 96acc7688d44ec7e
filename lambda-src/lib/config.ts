import { errors } from './errors';
import { DbUserSpec, PIPELINE_CONFIG_ENV, PipelineConfig } from '../../src/contracts';

const FIX = `The AuroraRestorePipeline construct sets ${PIPELINE_CONFIG_ENV} on every function: redeploy the stack rather than editing the function's environment.`;

let cached: { raw: string; config: PipelineConfig } | undefined;

/**
 * The pipeline's configuration, parsed from the `PIPELINE_CONFIG` environment variable once per
 * container (and again only if the variable changes, which happens in tests).
 */
export function loadConfig(): PipelineConfig {
  const raw = process.env[PIPELINE_CONFIG_ENV];
  if (cached && cached.raw === raw) return cached.config;
  if (raw === undefined || raw.trim() === '') {
    throw errors.invalidInput(`The environment variable ${PIPELINE_CONFIG_ENV} is not set. ${FIX}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw errors.invalidInput(`The environment variable ${PIPELINE_CONFIG_ENV} is not valid JSON. ${FIX}`);
  }
  validateConfig(parsed);
  cached = { raw, config: parsed };
  return parsed;
}

type Kind = 'string' | 'boolean' | 'number' | 'string[]' | 'object' | 'array' | 'optional-string' | 'optional-number';

const TOP_LEVEL: Record<string, Kind> = {
  pipelineId: 'string',
  sourceClusterIdentifier: 'string',
  sourceRegion: 'string',
  targetClusterIdentifier: 'string',
  targetRegion: 'string',
  stateTableName: 'string',
  auditTableName: 'string',
  topicArn: 'string',
  includeAutomatedSnapshots: 'boolean',
  snapshotCopyKeyArn: 'string',
  tags: 'array',
  replaceExistingTarget: 'boolean',
  assumeTargetOwned: 'boolean',
  finalSnapshotOnDelete: 'boolean',
  allowDisableDeletionProtection: 'boolean',
  retainSnapshotCopy: 'boolean',
  restore: 'object',
  waits: 'object',
  stateTtlSeconds: 'number',
  lockTtlSeconds: 'number',
  finalSnapshotsToKeep: 'number',
  replaceStrategy: 'string',
  previousTargetRetention: 'string',
  retainFailedRestore: 'boolean',
  sourceAccount: 'optional-string',
  sourceRoleArn: 'optional-string',
  sourceShareKeyArn: 'optional-string',
  pipelineAccount: 'optional-string',
};

const RESTORE: Record<string, Kind> = {
  subnetGroupName: 'string',
  securityGroupIds: 'string[]',
  instanceClass: 'string',
  instanceIdentifier: 'string',
  serverlessV2MinCapacity: 'number',
  serverlessV2MaxCapacity: 'number',
  engineVersion: 'optional-string',
  clusterParameterGroupName: 'optional-string',
  deletionProtection: 'boolean',
  port: 'number',
  kmsKeyArn: 'string',
  tags: 'array',
  masterSecretArn: 'string',
};

const WAITS: Record<string, Kind> = {
  pollIntervalSeconds: 'number',
  maxPollIntervalSeconds: 'number',
  backoffRate: 'number',
  budgetSeconds: 'number',
};

const DB_USER: Record<string, Kind> = {
  username: 'optional-string',
  secretArn: 'string',
  usernameKey: 'string',
  passwordKey: 'string',
  privilege: 'string',
  databases: 'string[]',
  schemas: 'string[]',
  connectionLimit: 'optional-number',
};

function matches(value: unknown, kind: Kind): boolean {
  switch (kind) {
    case 'string': return typeof value === 'string' && value.length > 0;
    case 'optional-string': return value === undefined || value === null || typeof value === 'string';
    case 'optional-number': return value === undefined || value === null || (typeof value === 'number' && Number.isFinite(value));
    case 'boolean': return typeof value === 'boolean';
    case 'number': return typeof value === 'number' && Number.isFinite(value);
    case 'string[]': return Array.isArray(value) && value.every((v) => typeof v === 'string');
    case 'array': return Array.isArray(value);
    case 'object': return typeof value === 'object' && value !== null && !Array.isArray(value);
  }
}

function checkFields(obj: Record<string, unknown>, shape: Record<string, Kind>, path: string, source = PIPELINE_CONFIG_ENV, fix = FIX): void {
  for (const [field, kind] of Object.entries(shape)) {
    if (!matches(obj[field], kind)) {
      throw errors.invalidInput(`${source} is invalid: field '${path}${field}' must be ${kind === 'optional-string' ? 'a string when set' : kind === 'optional-number' ? 'a number when set' : `a ${kind === 'string' ? 'non-empty string' : kind}`}. ${fix}`);
    }
  }
}

/**
 * Checks the users the state machine passes to setup-db-users (the SetupDbUsers task's `users` parameter).
 */
export function validateDbUserSpecs(users: unknown): asserts users is DbUserSpec[] {
  const source = 'The SetupDbUsers task input';
  const fix = 'The AuroraRestorePipeline construct writes the user list into the state machine: redeploy the stack rather than editing the definition.';
  if (!Array.isArray(users)) throw errors.invalidInput(`${source} is invalid: 'users' must be an array. ${fix}`);
  users.forEach((u, i) => {
    if (!matches(u, 'object')) throw errors.invalidInput(`${source} is invalid: 'users[${i}]' must be an object. ${fix}`);
    checkFields(u as Record<string, unknown>, DB_USER, `users[${i}].`, source, fix);
  });
}

const VALIDATION_QUERY: Record<string, Kind> = { name: 'string', database: 'string', sql: 'string' };

/**
 * Checks the ValidateRestore task input the state machine passes to validate-restore (databases, queries,
 * statement timeout); the construct checked the same at synth time.
 */
export function validateValidationInput(event: { databases?: unknown; queries?: unknown; statementTimeoutSeconds?: unknown }): void {
  const source = 'The ValidateRestore task input';
  const fix = 'The AuroraRestorePipeline construct writes the validation queries into the state machine: redeploy the stack rather than editing the definition.';
  checkFields(event as Record<string, unknown>, { databases: 'string[]', queries: 'array', statementTimeoutSeconds: 'number' }, '', source, fix);
  const timeout = event.statementTimeoutSeconds as number;
  if (!(timeout >= 1)) throw errors.invalidInput(`${source} is invalid: 'statementTimeoutSeconds' must be at least 1. ${fix}`);
  (event.queries as unknown[]).forEach((q, i) => {
    if (!matches(q, 'object')) throw errors.invalidInput(`${source} is invalid: 'queries[${i}]' must be an object. ${fix}`);
    checkFields(q as Record<string, unknown>, VALIDATION_QUERY, `queries[${i}].`, source, fix);
  });
}

function validateConfig(value: unknown): asserts value is PipelineConfig {
  if (!matches(value, 'object')) {
    throw errors.invalidInput(`${PIPELINE_CONFIG_ENV} must be a JSON object. ${FIX}`);
  }
  const c = value as Record<string, unknown>;
  checkFields(c, TOP_LEVEL, '');
  checkFields(c.restore as Record<string, unknown>, RESTORE, 'restore.');
  checkFields(c.waits as Record<string, unknown>, WAITS, 'waits.');
  // Cross-account takes all three or none (the construct sets them together).
  const crossAccount = [c.sourceAccount, c.sourceRoleArn, c.sourceShareKeyArn, c.pipelineAccount].filter((v) => typeof v === 'string' && v !== '').length;
  if (crossAccount !== 0 && crossAccount !== 4) {
    throw errors.invalidInput(`${PIPELINE_CONFIG_ENV} is invalid: 'sourceAccount', 'sourceRoleArn', 'sourceShareKeyArn' and 'pipelineAccount' must be set together or not at all. ${FIX}`);
  }
}
