/*
 * One e2e world: a synthesized pipeline stack whose AWS resources exist in moto, its state machine
 * rendered, its functions ready to run from their bundles, and the readers a scenario needs to look
 * at what happened (state and audit items, notifications, every secret value for the leak scan).
 */
import * as fs from 'node:fs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateDBClusterCommand,
  CreateDBClusterSnapshotCommand,
  CreateDBInstanceCommand,
  RDSClient,
  type Tag,
} from '@aws-sdk/client-rds';
import { GetSecretValueCommand, ListSecretsCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import {
  invokeFunction, localFunctions, runPipeline, type FunctionInvocation, type LocalFunction, type PipelineRun, type RunPipelineOptions,
} from './run-pipeline';
import type { SourceAccount } from './source-account';
import { PIPELINE_CONFIG_ENV, TABLE_KEYS, type DbUserSpec, type PipelineConfig } from '../../../src/contracts';
import { renderStateMachine, type RenderedStateMachine } from '../../support/asl';
import { contextOf, decideAs, TemplateIam, type PolicyDocument } from '../../support/iam-policies';
import { functionAccessKey, startIamRecorder, type RecordedCall } from '../../support/iam-recorder';
import { motoClientEnv, type MotoServer } from '../../support/moto';
import { functionAssetSources, templateFunctions, type CfnTemplate, type TemplateResolver } from '../../support/template';
import { MOTO_CREDENTIALS, provisionTemplate, type ProvisionedStack } from '../../support/template-provision';

/** Options of {@link createHarness}. */
export interface HarnessOptions {
  /** A running moto server (reset it between scenarios). */
  readonly moto: MotoServer;
  /** The stack holding one AuroraRestorePipeline. */
  readonly stack: Stack;
  /** Environment for every function on top of the template's, e.g. NODE_EXTRA_CA_CERTS of the test CA. */
  readonly extraEnv?: Record<string, string>;
  /**
   * The source account of a restore across accounts (see source-account.ts): calls made as its roles are decided
   * against their policies, and its keys' policies decide the pipeline's use of them.
   */
  readonly sourceAccount?: Pick<SourceAccount, 'account' | 'credentials' | 'roles' | 'keyPolicies'>;
}

/** A scenario's world. */
export interface E2EHarness {
  readonly moto: MotoServer;
  readonly template: CfnTemplate;
  readonly provisioned: ProvisionedStack;
  readonly resolver: TemplateResolver;
  readonly machine: RenderedStateMachine;
  readonly functions: LocalFunction[];
  /** The pipeline's configuration, as the functions receive it. */
  readonly config: PipelineConfig;
  /** The database users, as the state machine passes them to SetupDbUsers. */
  readonly dbUsers: DbUserSpec[];
  /** Every notification read so far through {@link E2EHarness.receiveMessages}, in order. */
  readonly messages: string[];
  /** DynamoDB (document client) of the target region. */
  readonly ddb: DynamoDBDocumentClient;
  /**
   * Every AWS call the handlers made so far, as IAM authorizes it. After each run and invocation the new calls
   * are evaluated against the functions' roles in the template: one IAM would refuse fails the run.
   */
  readonly iamCalls: RecordedCall[];
  /** The secret parts of the role sessions the functions opened (across accounts): secrets the scans look for. */
  readonly assumedRoleSecrets: string[];
  /** RDS of a region. */
  rds(region: string): RDSClient;
  /** Secrets Manager of a region (default the target region). */
  secrets(region?: string): SecretsManagerClient;
  /**
   * Registers a hook that runs before every task of every run, before the run's own `beforeTask`: how a
   * stand-in for a resource follows what the pipeline did to it (see local-cluster.ts).
   */
  onTask(hook: TaskHook): void;
  /**
   * Invokes one of the pipeline's functions outside any execution, as Lambda runs an asynchronous invocation
   * (an EventBridge rule's target), with the function's environment: `id` is its construct id, e.g. `SnsNotification`.
   */
  invoke(id: string, event: unknown): Promise<FunctionInvocation>;
  /** Evaluates the calls made since the last check; throws, listing them, if IAM would refuse any. */
  checkIam(): Promise<void>;
  /** Runs the state machine once (options override the harness's defaults). */
  run(input: unknown, options?: Partial<Omit<RunPipelineOptions, 'definition' | 'functions' | 'resolver'>>): Promise<PipelineRun>;
  /**
   * Resumes an execution the way Step Functions redrives it: under the same execution name (so the same ARN), from
   * the state `fromState` with the state `state` it had there (through a first Choice state, {@link REDRIVE_STATE}). (The local runner cannot redrive; `$$.Execution.Input`
   * is then `state`, which only the notification's echo of the input reads.)
   */
  resume(executionName: string, fromState: string, state: unknown, options?: Partial<Omit<RunPipelineOptions, 'definition' | 'functions' | 'resolver' | 'executionName'>>): Promise<PipelineRun>;
  /** New notifications since the last call (also appended to `messages`). */
  receiveMessages(): Promise<string[]>;
  /** Every item of the state table. */
  stateItems(): Promise<Array<Record<string, any>>>;
  /** One item of the state table (an operation, or `LOCK#<target>`), if it exists. */
  stateItem(key: string): Promise<Record<string, any> | undefined>;
  /** The audit entries of one operation, oldest first. */
  auditItems(operationId: string): Promise<Array<Record<string, any>>>;
  /** A secret's value, parsed as JSON (target region). Never print it. */
  secretJson(secretArn: string): Promise<Record<string, any>>;
  /** Replaces a secret's value (JSON). */
  putSecretJson(secretArn: string, value: Record<string, unknown>): Promise<void>;
  /** Every secret value stored in Secrets Manager in the given regions (JSON: the values of keys named like a password). */
  secretValues(regions?: string[]): Promise<string[]>;
}

/** The Choice state {@link E2EHarness.resume} enters first: the path of a resumed run starts with it. */
export const REDRIVE_STATE = 'Redrive';

/** A hook run before a task (see {@link E2EHarness.onTask}). */
export type TaskHook = (stateName: string, event: unknown, attempt: number) => Promise<void> | void;

/** Synthesizes the stack, provisions it in moto and prepares the functions. */
export async function createHarness(options: HarnessOptions): Promise<E2EHarness> {
  const { moto, stack } = options;
  const template = Template.fromStack(stack).toJSON() as CfnTemplate;
  const region = stack.region;
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) throw new Error(`The stack needs a concrete region (env.region), got ${region}`);
  const provisioned = await provisionTemplate(template, { endpoint: moto.endpoint, region, account: stack.account.startsWith('${') ? undefined : stack.account, stackName: stack.stackName });
  const resolver = provisioned.resolver;
  const machine = renderStateMachine(resolver);
  // Each function signs with its own access key, so the IAM recorder in front of moto knows whose call it sees.
  const functions = localFunctions(templateFunctions(resolver), functionAssetSources(stack, template))
    .map((f): LocalFunction => ({ ...f, environment: { ...f.environment, AWS_ACCESS_KEY_ID: functionAccessKey(f.logicalId) } }));
  const configText = functions.map((f) => f.environment[PIPELINE_CONFIG_ENV]).find((v) => v !== undefined);
  if (!configText) throw new Error(`No function has ${PIPELINE_CONFIG_ENV}`);
  const config = JSON.parse(configText) as PipelineConfig;
  const setupUsers = machine.definition.States.SetupDbUsers as { Parameters?: { users?: DbUserSpec[] } } | undefined;
  const dbUsers = setupUsers?.Parameters?.users ?? [];

  const clientConfig = (r: string) => ({ endpoint: moto.endpoint, region: r, credentials: MOTO_CREDENTIALS, maxAttempts: 1 });
  const rdsClients = new Map<string, RDSClient>();
  const secretClients = new Map<string, SecretsManagerClient>();
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig(region)));
  const messages: string[] = [];
  const source = options.sourceAccount;
  const iam = new TemplateIam(template, resolver, source?.keyPolicies);
  const recorder = await startIamRecorder({
    target: moto.endpoint,
    account: resolver.account,
    credentials: MOTO_CREDENTIALS,
    accounts: source ? { [source.account]: source.credentials } : {},
    callerArnOf: (logicalId) => {
      const role = iam.roles.get(logicalId)?.roleArn;
      const fn = functions.find((f) => f.logicalId === logicalId);
      return role && fn ? `arn:aws:sts::${resolver.account}:assumed-role/${role.split('/').pop()}/${fn.functionName}` : undefined;
    },
  });
  const { AWS_ACCESS_KEY_ID: _perFunction, ...motoEnv } = motoClientEnv(moto);
  const env = { ...motoEnv, AWS_ENDPOINT_URL: recorder.endpoint, ...options.extraEnv };
  let checkedCalls = 0;
  // Evaluates the calls made since the last check against each function's role in the template.
  const checkIam = async () => {
    const fresh = recorder.calls.slice(checkedCalls);
    checkedCalls += fresh.length;
    const problems: string[] = [];
    let requests = 0;
    let allowed = 0;
    for (const call of fresh) {
      const fn = call.functionLogicalId.replace(/^.*Handlers/, '').replace(/[0-9A-F]{8}$/, '');
      const who = call.assumedRole ? `${fn} as ${call.assumedRole.roleArn}` : fn;
      // A call made as an assumed role is decided against that role's policies (the source account's companion).
      const asRole = call.assumedRole && source?.roles.find((r) => r.roleArn === call.assumedRole!.roleArn);
      if (call.unmapped || !iam.roles.has(call.functionLogicalId) || (call.assumedRole && !asRole)) {
        problems.push(`${who} ${call.action}: ${call.unmapped ?? (call.assumedRole ? 'made as a role whose policies the harness does not know' : 'signed by no function of the template')}`);
        continue;
      }
      for (const request of call.requests) {
        requests++;
        const decision = asRole
          ? await decideAs(asRole.roleArn, asRole.policies, request, iam.keyPolicies, call.assumedRole!.account)
          : await iam.decide(call.functionLogicalId, request);
        // A role whose trust policy refuses the caller: AWS (moto, fix assume-role-trust) refused it too, and the run
        // saw that refusal. Only the caller's own side must allow it.
        if (decision !== 'Allowed' && call.action === 'sts:AssumeRole' && call.response?.errorCode === 'AccessDenied' && !asRole
          && await iam.decide(call.functionLogicalId, { ...request, resourcePolicy: trusting(resolver.account, request.resource) }) === 'Allowed') {
          allowed++;
          continue;
        }
        if (decision === 'Allowed') allowed++;
        else problems.push(`${who} ${call.action}: ${request.action} on ${request.resource} is ${decision} (${JSON.stringify(contextOf(request))})`);
      }
    }
    if (process.env.IAM_REPORT && fresh.length > 0) {
      fs.appendFileSync(process.env.IAM_REPORT, `${JSON.stringify({ suite: 'e2e', calls: fresh.length, requests, allowed, denied: requests - allowed })}\n`);
    }
    if (problems.length > 0) {
      throw new Error(`IAM would refuse ${problems.length} of the handlers' calls (policies of the synthesized template, @cloud-copilot/iam-simulate):\n${problems.join('\n')}`);
    }
  };
  const taskHooks: TaskHook[] = [];

  const harness: E2EHarness = {
    moto,
    template,
    provisioned,
    resolver,
    machine,
    functions,
    config,
    dbUsers,
    messages,
    rds(r: string) {
      let c = rdsClients.get(r);
      if (!c) rdsClients.set(r, c = new RDSClient(clientConfig(r)));
      return c;
    },
    ddb,
    secrets(r = region) {
      let c = secretClients.get(r);
      if (!c) secretClients.set(r, c = new SecretsManagerClient(clientConfig(r)));
      return c;
    },
    onTask(hook) {
      taskHooks.push(hook);
    },
    iamCalls: recorder.calls,
    assumedRoleSecrets: recorder.temporarySecrets,
    checkIam,
    async invoke(id, event) {
      const pattern = new RegExp(`Handlers${id}[0-9A-F]{8}$`);
      const matching = functions.filter((f) => pattern.test(f.logicalId));
      if (matching.length !== 1) throw new Error(`Expected one function ${id}, found ${matching.map((f) => f.logicalId).join(', ') || 'none'}`);
      const invocation = await invokeFunction(matching[0], event, { region, awsEnv: env });
      await checkIam();
      return invocation;
    },
    async run(input, runOptions = {}) {
      const own = runOptions.beforeTask;
      const run = await runPipeline({
        definition: machine.definition,
        functions,
        resolver,
        stateMachineName: machine.name,
        input,
        ...runOptions,
        beforeTask: taskHooks.length === 0 ? own : async (stateName, event, attempt) => {
          for (const hook of taskHooks) await hook(stateName, event, attempt);
          await own?.(stateName, event, attempt);
        },
        awsEnv: { ...env, ...runOptions.awsEnv },
      });
      await checkIam();
      return run;
    },
    resume(executionName, fromState, state, runOptions = {}) {
      if (!(fromState in machine.definition.States)) throw new Error(`No state ${fromState} to resume from`);
      // A Choice in front that always goes to `fromState` (the runner refuses a definition with unreachable states).
      const redrive = {
        Type: 'Choice',
        Choices: [{ Variable: '$.__neverSet', IsPresent: true, Next: machine.definition.StartAt }],
        Default: fromState,
      };
      return runPipeline({
        definition: {
          ...machine.definition, StartAt: REDRIVE_STATE, States: { [REDRIVE_STATE]: redrive, ...machine.definition.States },
        } as typeof machine.definition,
        functions,
        resolver,
        stateMachineName: machine.name,
        input: state,
        executionName,
        ...runOptions,
        beforeTask: async (stateName, event, attempt) => {
          for (const hook of taskHooks) await hook(stateName, event, attempt);
          await runOptions.beforeTask?.(stateName, event, attempt);
        },
        awsEnv: { ...env, ...runOptions.awsEnv },
      });
    },
    async receiveMessages() {
      const fresh = await provisioned.receiveMessages();
      messages.push(...fresh);
      return fresh;
    },
    async stateItems() {
      return (await ddb.send(new ScanCommand({ TableName: config.stateTableName }))).Items ?? [];
    },
    async stateItem(key: string) {
      const out = await ddb.send(new GetCommand({ TableName: config.stateTableName, Key: { [TABLE_KEYS.partitionKey]: key }, ConsistentRead: true }));
      return out.Item;
    },
    async auditItems(operationId: string) {
      const out = await ddb.send(new QueryCommand({
        TableName: config.auditTableName,
        KeyConditionExpression: '#pk = :op',
        ExpressionAttributeNames: { '#pk': TABLE_KEYS.partitionKey },
        ExpressionAttributeValues: { ':op': operationId },
      }));
      return out.Items ?? [];
    },
    async secretJson(secretArn) {
      const out = await harness.secrets().send(new GetSecretValueCommand({ SecretId: secretArn }));
      return JSON.parse(out.SecretString ?? '{}');
    },
    async putSecretJson(secretArn, value) {
      await harness.secrets().send(new PutSecretValueCommand({ SecretId: secretArn, SecretString: JSON.stringify(value) }));
    },
    async secretValues(regions = [...new Set([region, config.sourceRegion])]) {
      const values: string[] = [];
      for (const r of regions) {
        const client = harness.secrets(r);
        const list = await client.send(new ListSecretsCommand({}));
        for (const s of list.SecretList ?? []) {
          const v = await client.send(new GetSecretValueCommand({ SecretId: s.ARN }));
          values.push(...secretLeaves(v.SecretString ?? ''));
        }
      }
      return [...new Set(values)];
    },
  };
  return harness;
}

/** A trust policy letting `account` assume `roleArn`: what the caller's side is decided with when the real one refused. */
function trusting(account: string, roleArn: string): PolicyDocument {
  return { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'sts:AssumeRole', Resource: roleArn }] };
}

/** The parts of a secret string that are secret: a plain string, or the values of password-like JSON keys. */
export function secretLeaves(secretString: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    return secretString ? [secretString] : [];
  }
  if (parsed === null || typeof parsed !== 'object') return secretString ? [secretString] : [];
  return Object.entries(parsed as Record<string, unknown>)
    .filter(([k, v]) => /pass|secret|token|key/i.test(k) && typeof v === 'string' && v.length > 0)
    .map(([, v]) => v as string);
}

/** Where a secret value was found. The value itself is never reported. */
export interface SecretLeak {
  readonly where: string;
  /** Index of the leaked value in the list that was scanned for. */
  readonly secretIndex: number;
}

/**
 * Looks for each secret value in everything a run made observable: the execution's events (every state's
 * input and output), each invocation's event, result, error and console output, the final output or
 * error, the state and audit items, the notifications, and any further texts given.
 */
export async function findSecretLeaks(
  h: E2EHarness, runs: PipelineRun[], secrets: string[], extra: Record<string, string> = {},
): Promise<SecretLeak[]> {
  const texts: Array<[string, string]> = [];
  runs.forEach((run, r) => {
    texts.push([`run ${r} output`, JSON.stringify(run.output ?? null)], [`run ${r} error`, JSON.stringify(run.error ?? null)]);
    run.events.forEach((ev, i) => texts.push([`run ${r} event ${i} (${ev.type})`, JSON.stringify(ev)]));
    run.invocations.forEach((inv, i) => {
      const where = `run ${r} invocation ${i} (${inv.stateName})`;
      texts.push([`${where} event`, JSON.stringify(inv.event)], [`${where} result`, JSON.stringify(inv.result ?? null)],
        [`${where} error`, JSON.stringify(inv.error ?? null)], [`${where} logs`, inv.logs.join('\n')]);
    });
  });
  (await h.stateItems()).forEach((item, i) => texts.push([`state item ${i} (${item[TABLE_KEYS.partitionKey]})`, JSON.stringify(item)]));
  const audit = await h.ddb.send(new ScanCommand({ TableName: h.config.auditTableName }));
  (audit.Items ?? []).forEach((item, i) => texts.push([`audit item ${i} (${item[TABLE_KEYS.auditSortKey]})`, JSON.stringify(item)]));
  await h.receiveMessages();
  h.messages.forEach((m, i) => texts.push([`notification ${i}`, m]));
  Object.entries(extra).forEach(([where, text]) => texts.push([where, text]));

  const leaks: SecretLeak[] = [];
  secrets.forEach((secret, secretIndex) => {
    if (!secret) return;
    // JSON.stringify escapes some characters; look for the raw and the escaped form.
    const forms = new Set([secret, JSON.stringify(secret).slice(1, -1)]);
    for (const [where, text] of texts) {
      if ([...forms].some((f) => text.includes(f))) leaks.push({ where, secretIndex });
    }
  });
  return leaks;
}

/** What {@link seedCluster} creates. */
export interface SeedClusterOptions {
  readonly region: string;
  readonly identifier: string;
  /** Default `postgres`, the test PostgreSQL's superuser. */
  readonly masterUsername?: string;
  /** Default a fixed 16-character password (moto keeps it; nothing real checks it). */
  readonly masterPassword?: string;
  readonly engineVersion?: string;
  readonly deletionProtection?: boolean;
  readonly tags?: Tag[];
  /** Also create a writer instance `<identifier>-writer` (or this identifier). */
  readonly writerInstance?: boolean | string;
  /** Manual snapshots to take, oldest first. */
  readonly snapshots?: string[];
  /** Whether the cluster (and so its snapshots) is encrypted. Default true. */
  readonly storageEncrypted?: boolean;
  /** The KMS key of an encrypted cluster. Default: moto's placeholder id, which names no key. */
  readonly kmsKeyId?: string;
}

/**
 * Creates an Aurora PostgreSQL cluster (a source, or a pre-existing target) in moto. Uses MasterUserPassword,
 * never ManageMasterUserPassword: moto cannot restore a snapshot of a cluster that manages its password.
 */
export async function seedCluster(h: E2EHarness, options: SeedClusterOptions): Promise<void> {
  const client = h.rds(options.region);
  await client.send(new CreateDBClusterCommand({
    DBClusterIdentifier: options.identifier,
    Engine: 'aurora-postgresql',
    EngineVersion: options.engineVersion ?? '16.4',
    MasterUsername: options.masterUsername ?? 'postgres',
    MasterUserPassword: options.masterPassword ?? 'seed-password-16',
    StorageEncrypted: options.storageEncrypted ?? true,
    ...(options.kmsKeyId ? { KmsKeyId: options.kmsKeyId } : {}),
    DeletionProtection: options.deletionProtection ?? false,
    Tags: options.tags,
  }));
  if (options.writerInstance) {
    await client.send(new CreateDBInstanceCommand({
      DBInstanceIdentifier: typeof options.writerInstance === 'string' ? options.writerInstance : `${options.identifier}-writer`,
      DBClusterIdentifier: options.identifier,
      Engine: 'aurora-postgresql',
      DBInstanceClass: 'db.serverless',
      Tags: options.tags,
    }));
  }
  for (const snapshot of options.snapshots ?? []) {
    await client.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: options.identifier, DBClusterSnapshotIdentifier: snapshot }));
  }
}
