/*
 * The source account (cross-account mode): the handlers that act there assume the role of its AuroraRestoreSource
 * (`sourceRoleArn`) themselves, each time they need it. The temporary credentials live only in this container's
 * memory: never in the state, the execution history, the tables or a log line. They are reused until five minutes
 * before they expire.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { RDSClient } from '@aws-sdk/client-rds';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { errors, isThrottling, mapAwsError } from './errors';
import { shareSnapshotIdentifier } from './naming';
import { PipelineConfig } from '../../src/contracts';

const MAX_ATTEMPTS = 3;
/** Credentials are renewed this long before they expire, so a call never starts with credentials about to lapse. */
export const CREDENTIALS_RENEW_BEFORE_MS = 5 * 60 * 1000;
/** Role session names: at most 64 of `[\w+=,.@-]`. */
const MAX_SESSION_NAME = 64;

/** The source account's side, when the pipeline restores from another account. */
export interface SourceAccount {
  /** The source account id. */
  readonly account: string;
  /** The role the handlers assume there. */
  readonly roleArn: string;
  /** The share key (source account, pipeline's region). */
  readonly shareKeyArn: string;
  /** The pipeline's own account: the one the shareable copy is shared with. */
  readonly pipelineAccount: string;
  /** The partition, from the role's ARN. */
  readonly partition: string;
}

/** The source account's side of the configuration, or `undefined` when the source is in the pipeline's account. */
export function sourceAccountOf(config: PipelineConfig): SourceAccount | undefined {
  if (!config.sourceRoleArn || !config.sourceAccount || !config.sourceShareKeyArn || !config.pipelineAccount) return undefined;
  return {
    account: config.sourceAccount,
    roleArn: config.sourceRoleArn,
    shareKeyArn: config.sourceShareKeyArn,
    pipelineAccount: config.pipelineAccount,
    partition: config.sourceRoleArn.split(':')[1] || 'aws',
  };
}

/** The role session name of an operation: `arp-<operation id>`, so CloudTrail in the source account names the operation. */
export function sessionName(operationId: string): string {
  return `arp-${operationId}`.replace(/[^\w+=,.@-]/g, '-').slice(0, MAX_SESSION_NAME);
}

/** ARN of the operation's shareable copy in the source account (pipeline's region), the snapshot the restore reads. */
export function sharedCopyArn(config: PipelineConfig, source: SourceAccount, operationId: string): string {
  const id = shareSnapshotIdentifier(config.targetClusterIdentifier, operationId);
  return `arn:${source.partition}:rds:${config.targetRegion}:${source.account}:cluster-snapshot:${id}`;
}

interface Held {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

const held = new Map<string, Held>();
const rdsClients = new Map<string, RDSClient>();
const kmsClients = new Map<string, KMSClient>();
let stsClient: { region: string; client: STSClient } | undefined;

/** Forgets every cached credential and client (tests, and a role that stopped working). */
export function forgetSourceCredentials(): void {
  held.clear();
  rdsClients.clear();
  kmsClients.clear();
  stsClient = undefined;
}

function sts(region: string): STSClient {
  if (!stsClient || stsClient.region !== region) {
    stsClient = { region, client: new STSClient({ region, maxAttempts: MAX_ATTEMPTS }) };
  }
  return stsClient.client;
}

/**
 * Assumes the source account's role for an operation (or reuses this container's credentials of the same session
 * until five minutes before they expire). A refusal is SourceRoleNotAssumable, saying what to change in which account.
 */
export async function assumeSourceRole(config: PipelineConfig, source: SourceAccount, operationId: string): Promise<Held> {
  const session = sessionName(operationId);
  const key = `${source.roleArn}|${session}`;
  const cached = held.get(key);
  if (cached && (!cached.expiration || cached.expiration.getTime() - Date.now() > CREDENTIALS_RENEW_BEFORE_MS)) return cached;
  try {
    const out = await sts(config.targetRegion).send(new AssumeRoleCommand({ RoleArn: source.roleArn, RoleSessionName: session }));
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey) {
      throw errors.serviceUnavailable(`STS answered the AssumeRole of ${source.roleArn} without credentials. The step is retried.`);
    }
    const credentials: Held = {
      accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration,
    };
    held.set(key, credentials);
    return credentials;
  } catch (err) {
    throw assumeRoleError(err, config, source);
  }
}

/** The RDS client of `region` acting as the source account's role. */
export async function sourceRds(
  config: PipelineConfig, source: SourceAccount, operationId: string, region = config.targetRegion,
): Promise<RDSClient> {
  const credentials = await assumeSourceRole(config, source, operationId);
  const key = `${region}|${credentials.accessKeyId}`;
  let client = rdsClients.get(key);
  if (!client) {
    client = new RDSClient({ region, maxAttempts: MAX_ATTEMPTS, credentials: staticCredentials(credentials) });
    rdsClients.set(key, client);
  }
  return client;
}

/** The KMS client of `region` acting as the source account's role (the preflight describes the share key). */
export async function sourceKms(
  config: PipelineConfig, source: SourceAccount, operationId: string, region = config.targetRegion,
): Promise<KMSClient> {
  const credentials = await assumeSourceRole(config, source, operationId);
  const key = `${region}|${credentials.accessKeyId}`;
  let client = kmsClients.get(key);
  if (!client) {
    client = new KMSClient({ region, maxAttempts: MAX_ATTEMPTS, credentials: staticCredentials(credentials) });
    kmsClients.set(key, client);
  }
  return client;
}

function staticCredentials(c: Held) {
  return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken, expiration: c.expiration };
}

const DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'AccessDeniedFault', 'NoSuchEntity', 'InvalidIdentityToken']);

/** AssumeRole's refusal as SourceRoleNotAssumable; transient faults and throttling as the pipeline names them. */
function assumeRoleError(err: unknown, config: PipelineConfig, source: SourceAccount): Error {
  if (isThrottling(err)) return err as Error;
  const name = (err as { name?: string })?.name ?? '';
  if (!DENIED.has(name)) return mapAwsError(err, `Assuming role ${source.roleArn} in account ${source.account}`);
  const detail = (err as Error)?.message ?? '';
  const caller = callerRoleOf(detail);
  const b = source.pipelineAccount;
  return errors.sourceRoleNotAssumable(`The pipeline's account ${b} cannot assume role ${source.roleArn} in account ${source.account} `
    + `(${name}: ${detail}): the role's trust policy must trust account ${b}${caller ? ` (or this pipeline's role ${caller})` : ''}. `
    + `Deploy AuroraRestoreSource in account ${source.account} (in ${config.targetRegion}) with pipelineAccount: '${b}'`
    + `${caller ? ` (and, if it names pipelineRoleArns, ${caller} among them)` : ''}, and give its roleArn to the pipeline as sourceRoleArn. `
    + 'Nothing was changed.');
}

/**
 * The caller's IAM role, from STS's refusal ("User: arn:aws:sts::<account>:assumed-role/<role>/<session> is not
 * authorized ..."): the ARN a trust policy names.
 */
export function callerRoleOf(message: string): string | undefined {
  const m = /arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([\w+=,.@-]+)\//.exec(message);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : undefined;
}
