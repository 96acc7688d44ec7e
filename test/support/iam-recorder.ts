/*
 * Records every AWS call the handlers make, as IAM would authorize it: a small HTTP proxy in front of moto
 * (the handlers' AWS_ENDPOINT_URL). Each function signs with its own access key id (`fn-<logical id>`), so the
 * credential scope of a request names the function, its region and its service; the body names the action
 * and its parameters. Before the request reaches moto, the proxy reads from moto the tags each resource
 * carries at that moment, so tag conditions are evaluated on the state the call met.
 *
 * A call becomes the IAM requests AWS makes for it: one per resource the action authorizes (an RDS
 * restore: the cluster, the snapshot, the subnet group, the parameter and option groups), tagging on create
 * (`rds:AddTagsToResource` when a create carries tags), and the KMS grants RDS makes on the caller's behalf
 * (`kms:CreateGrant` for an AWS resource, through RDS). A call it cannot map is recorded as unmapped, so a
 * new AWS call in a handler fails the check until it is mapped here.
 *
 * Across accounts: a function that assumes a role (STS AssumeRole) gets temporary keys, which the recorder reads
 * from moto's answer; a call signed with one is recorded as that role's, in the role's account, so it is decided
 * against the role's policies (the source account's AuroraRestoreSource role). A request on another account's
 * snapshot carries the share (the snapshot's `restore` attribute) as its resource policy, and RDS's use of another
 * account's key names the calling account (`kms:CallerAccount`), which that key's policy must allow.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DescribeDBClustersCommand, DescribeDBClusterSnapshotAttributesCommand, DescribeDBClusterSnapshotsCommand, ListTagsForResourceCommand, RDSClient,
} from '@aws-sdk/client-rds';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { IamRequest, PolicyDocument } from './iam-policies';
import { CALLER_ARN_HEADER } from './moto';
import { awsJsonCall, awsQueryCall } from './moto-json-api';

/** The access key id a function signs with: the recorder reads the function back from it. */
export function functionAccessKey(logicalId: string): string {
  return `fn-${logicalId}`;
}

/** A role session a function opened with STS AssumeRole. */
export interface AssumedRoleSession {
  /** The role assumed. */
  readonly roleArn: string;
  /** The role's account. */
  readonly account: string;
  /** The function that assumed it. */
  readonly functionLogicalId: string;
}

/** One AWS call of a handler. */
export interface RecordedCall {
  /**
   * The function's logical id (from its access key), or the access key when it names no function; for a call made
   * with an assumed role's temporary keys, the function that assumed the role.
   */
  readonly functionLogicalId: string;
  /** Set when the call was signed with an assumed role's temporary keys: IAM decides it as that role's. */
  readonly assumedRole?: AssumedRoleSession;
  readonly region: string;
  /** `service:Action`. */
  readonly action: string;
  readonly params: Record<string, unknown>;
  /** What IAM authorizes for it. */
  readonly requests: IamRequest[];
  /** Why the call could not be mapped to IAM requests, if it could not. */
  readonly unmapped?: string;
  /** moto's answer: its HTTP status, and for an STS call its error code (set once the answer has come). */
  response?: { readonly status: number; readonly errorCode?: string };
}

/** A running recorder. */
export interface IamRecorder {
  /** The value for the handlers' AWS_ENDPOINT_URL. */
  readonly endpoint: string;
  /** Every call so far, in order. */
  readonly calls: RecordedCall[];
  /** The secret parts (secret access keys, session tokens) of every role session handed out so far: for leak scans. */
  readonly temporarySecrets: string[];
  /** Stops listening. */
  close(): Promise<void>;
}

/** Options of {@link startIamRecorder}. */
export interface IamRecorderOptions {
  /** moto's endpoint. */
  readonly target: string;
  /** The account every resource lives in. */
  readonly account: string;
  /** Credentials for the recorder's own reads from moto. */
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  /** Credentials for the recorder's reads of resources in other accounts (tags, snapshots, shares), by account. */
  readonly accounts?: Record<string, { accessKeyId: string; secretAccessKey: string }>;
  /**
   * The role session of a function (by logical id) as STS names it (`arn:aws:sts::<account>:assumed-role/<role>/<function
   * name>`, as Lambda runs it), sent to moto with the function's AssumeRole calls (header {@link CALLER_ARN_HEADER}), so
   * a trust policy naming that role is honoured, and a refusal names the caller, as AWS does.
   */
  readonly callerArnOf?: (functionLogicalId: string) => string | undefined;
}

type Params = Record<string, string>;

/** Starts the proxy on a free port of 127.0.0.1. */
export async function startIamRecorder(options: IamRecorderOptions): Promise<IamRecorder> {
  const calls: RecordedCall[] = [];
  const lookup = new MotoLookup(options);
  const sessions = new Map<string, AssumedRoleSession>();
  const temporarySecrets: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      void (async () => {
        let call: RecordedCall;
        try {
          call = await describeCall(req, body, options.account, lookup, sessions);
        } catch (err) {
          call = { functionLogicalId: '?', region: '?', action: '?', params: {}, requests: [], unmapped: `recorder error: ${(err as Error).message}` };
        }
        calls.push(call);
        const assuming = call.action === 'sts:AssumeRole';
        const callerArn = assuming && !call.assumedRole ? options.callerArnOf?.(call.functionLogicalId) : undefined;
        const headers = callerArn ? { ...req.headers, [CALLER_ARN_HEADER]: callerArn } : req.headers;
        const upstream = http.request(`${options.target}${req.url}`, { method: req.method, headers, agent: false }, (up) => {
          call.response = { status: up.statusCode ?? 502 };
          if (!assuming) {
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
            return;
          }
          // Read the temporary keys moto hands out, to know whose later calls they sign.
          const answer: Buffer[] = [];
          up.on('data', (c: Buffer) => answer.push(c));
          up.on('end', () => {
            const xml = Buffer.concat(answer).toString('utf8');
            const key = /<AccessKeyId>([^<]+)<\/AccessKeyId>/.exec(xml)?.[1];
            const roleArn = String(call.params.RoleArn ?? '');
            const errorCode = /<Code>([^<]+)<\/Code>/.exec(xml)?.[1];
            call.response = { status: up.statusCode ?? 502, ...(errorCode ? { errorCode } : {}) };
            if (up.statusCode === 200 && key) {
              sessions.set(key, { roleArn, account: roleArn.split(':')[4] ?? '', functionLogicalId: call.functionLogicalId });
              for (const element of ['SecretAccessKey', 'SessionToken']) {
                const value = new RegExp(`<${element}>([^<]+)</${element}>`).exec(xml)?.[1];
                if (value) temporarySecrets.push(value);
              }
            }
            res.writeHead(up.statusCode ?? 502, up.headers);
            res.end(xml);
          });
        });
        upstream.on('error', (err) => {
          res.writeHead(502);
          res.end(`iam-recorder: ${err.message}`);
        });
        upstream.end(body);
      })();
    });
  });
  // Never keeps the test process alive.
  server.on('connection', (socket) => socket.unref());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    temporarySecrets,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Reads what the recorder needs to know from moto, directly (not through the proxy). */
class MotoLookup {
  private readonly rdsClients = new Map<string, RDSClient>();
  private readonly secretClients = new Map<string, SecretsManagerClient>();
  constructor(private readonly options: IamRecorderOptions) {}

  /** RDS of a region, as the account that owns what is read (the ARN's account; default the main account). */
  rds(region: string, account = this.options.account): RDSClient {
    const key = `${account}/${region}`;
    let c = this.rdsClients.get(key);
    if (!c) {
      const credentials = account === this.options.account ? this.options.credentials : this.options.accounts?.[account];
      if (!credentials) throw new Error(`no credentials of account ${account} to read its resources: pass them as accounts`);
      c = new RDSClient({ region, endpoint: this.options.target, credentials, maxAttempts: 1 });
      this.rdsClients.set(key, c);
    }
    return c;
  }

  /** The tags of an RDS resource (ARN as the handler named it); none when it does not exist. */
  async tags(region: string, arn: string): Promise<Record<string, string>> {
    try {
      const out = await this.rds(region, accountOf(arn)).send(new ListTagsForResourceCommand({ ResourceName: arn }));
      return Object.fromEntries((out.TagList ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
    } catch {
      return {};
    }
  }

  async snapshot(region: string, idOrArn: string, account?: string): Promise<{ engineVersion?: string; kmsKeyId?: string } | undefined> {
    try {
      const rds = this.rds(region, accountOf(idOrArn) ?? account);
      const out = await rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: idOrArn }));
      const s = out.DBClusterSnapshots?.[0];
      return s && { engineVersion: s.EngineVersion, kmsKeyId: s.StorageEncrypted === false ? undefined : s.KmsKeyId };
    } catch {
      return undefined;
    }
  }

  /**
   * The key an alias ARN names, as its account's KMS holds it: IAM authorizes a call that names a key by its alias
   * on the key itself. The alias ARN when it names no key (the call then fails in KMS anyway).
   */
  async keyOfAlias(aliasArn: string): Promise<string> {
    const [, , , region, account] = aliasArn.split(':');
    const credentials = account === this.options.account ? this.options.credentials : this.options.accounts?.[account];
    if (!credentials) return aliasArn;
    try {
      const target = { endpoint: this.options.target, region, accessKeyId: credentials.accessKeyId };
      const out = await awsJsonCall(target, 'kms', 'DescribeKey', { KeyId: aliasArn });
      return out.KeyMetadata?.Arn ?? aliasArn;
    } catch {
      return aliasArn;
    }
  }

  /** The trust policy of a role (ARN), as its account's IAM holds it; none when the role does not exist. */
  async trustPolicy(roleArn: string): Promise<PolicyDocument | undefined> {
    const account = accountOf(roleArn) ?? this.options.account;
    const credentials = account === this.options.account ? this.options.credentials : this.options.accounts?.[account];
    if (!credentials) return undefined;
    try {
      const out = await awsQueryCall({ endpoint: this.options.target, region: 'us-east-1', accessKeyId: credentials.accessKeyId }, 'iam', 'GetRole', {
        RoleName: roleArn.split('/').pop()!,
      });
      const document = out.text('AssumeRolePolicyDocument');
      return document ? JSON.parse(decodeURIComponent(document)) : undefined;
    } catch {
      return undefined;
    }
  }

  /** The accounts a cluster snapshot (ARN) is shared with, as its owner sees them; none when it does not exist. */
  async sharedWith(region: string, arn: string): Promise<string[]> {
    try {
      const id = arn.split(':').slice(6).join(':');
      const out = await this.rds(region, accountOf(arn)).send(new DescribeDBClusterSnapshotAttributesCommand({ DBClusterSnapshotIdentifier: id }));
      return out.DBClusterSnapshotAttributesResult?.DBClusterSnapshotAttributes?.find((a) => a.AttributeName === 'restore')?.AttributeValues ?? [];
    } catch {
      return [];
    }
  }

  async clusterEngineVersion(region: string, id: string, account?: string): Promise<string | undefined> {
    try {
      const out = await this.rds(region, account).send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }));
      return out.DBClusters?.[0]?.EngineVersion;
    } catch {
      return undefined;
    }
  }

  async secretArn(region: string, id: string): Promise<string> {
    if (id.startsWith('arn:')) return id;
    let c = this.secretClients.get(region);
    if (!c) {
      c = new SecretsManagerClient({ region, endpoint: this.options.target, credentials: this.options.credentials, maxAttempts: 1 });
      this.secretClients.set(region, c);
    }
    const out = await c.send(new DescribeSecretCommand({ SecretId: id }));
    return out.ARN ?? id;
  }
}

/** The account of an ARN, if it is one. */
function accountOf(idOrArn: string): string | undefined {
  return /^arn:[^:]+:[^:]+:[^:]*:(\d{12}):/.exec(idOrArn)?.[1];
}

/** Parses the request: who (access key, or the role session it belongs to), where (region, service), what (action, parameters). */
async function describeCall(
  req: http.IncomingMessage, body: Buffer, account: string, lookup: MotoLookup, sessions: Map<string, AssumedRoleSession>,
): Promise<RecordedCall> {
  const auth = String(req.headers.authorization ?? '');
  const scope = /Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(auth);
  if (!scope) {
    return { functionLogicalId: '?', region: '?', action: '?', params: {}, requests: [], unmapped: `unsigned request ${req.method} ${req.url}` };
  }
  const [, accessKey, region, service] = scope;
  const assumedRole = sessions.get(accessKey);
  const functionLogicalId = assumedRole?.functionLogicalId ?? (accessKey.startsWith('fn-') ? accessKey.slice(3) : accessKey);
  const target = req.headers['x-amz-target'];
  let operation: string;
  let params: Params | Record<string, unknown>;
  if (typeof target === 'string') {
    operation = target.slice(target.lastIndexOf('.') + 1);
    params = body.length ? JSON.parse(body.toString('utf8')) : {};
  } else {
    const form = new URLSearchParams(body.toString('utf8'));
    params = Object.fromEntries(form.entries());
    operation = String((params as Params).Action ?? '');
  }
  const action = `${service}:${operation}`;
  const base = { functionLogicalId, ...(assumedRole ? { assumedRole } : {}), region, action, params: redact(params) };
  const ctx: MapContext = { account: assumedRole?.account ?? account, region, lookup };
  const mapper = MAPPERS[action];
  if (!mapper) return { ...base, requests: [], unmapped: `no IAM mapping for ${action}: add it to test/support/iam-recorder.ts` };
  return { ...base, requests: await mapper(params as any, ctx) };
}

/** Parameters safe to keep in a record: no secret values (a password reset sends one). */
function redact(params: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, /password|secret/i.test(k) && !/arn|id$/i.test(k) ? '***' : v]));
}

interface MapContext {
  /** The caller's account: unqualified identifiers name its resources. */
  readonly account: string;
  readonly region: string;
  readonly lookup: MotoLookup;
}

type Mapper = (params: any, ctx: MapContext) => Promise<IamRequest[]>;

/** An RDS ARN as AWS builds it: identifiers are stored, and named in ARNs, in lower case. */
function rdsArn(ctx: MapContext, type: string, idOrArn: string): { arn: string; region: string; lookupArn: string } {
  const parsed = /^arn:([^:]+):rds:([^:]+):(\d{12}):([^:]+):(.+)$/.exec(idOrArn);
  if (parsed) {
    const [, partition, region, account, kind, name] = parsed;
    return { arn: `arn:${partition}:rds:${region}:${account}:${kind}:${name.toLowerCase()}`, region, lookupArn: idOrArn };
  }
  return {
    arn: `arn:aws:rds:${ctx.region}:${ctx.account}:${type}:${idOrArn.toLowerCase()}`,
    region: ctx.region,
    lookupArn: `arn:aws:rds:${ctx.region}:${ctx.account}:${type}:${idOrArn}`,
  };
}

/** Tags in a query-protocol request: `Tags.Tag.1.Key` / `Tags.member.1.Key` and their values. */
function requestTags(p: Params): Record<string, string> | undefined {
  const byIndex = new Map<string, { key?: string; value?: string }>();
  for (const [k, v] of Object.entries(p)) {
    const m = /^Tags\.(?:Tag|member)\.(\d+)\.(Key|Value)$/.exec(k);
    if (!m) continue;
    const entry = byIndex.get(m[1]) ?? {};
    if (m[2] === 'Key') entry.key = v;
    else entry.value = v;
    byIndex.set(m[1], entry);
  }
  if (byIndex.size === 0) return undefined;
  return Object.fromEntries([...byIndex.values()].map((e) => [e.key ?? '', e.value ?? '']));
}

/** One RDS resource of a request, with its tags at this moment. */
async function rdsResource(ctx: MapContext, action: string, type: string, idOrArn: string, extra: Partial<IamRequest> = {}): Promise<IamRequest> {
  const { arn, region, lookupArn } = rdsArn(ctx, type, idOrArn);
  const tagged = ['cluster', 'db', 'cluster-snapshot'].includes(arn.split(':')[5]);
  const shared = arn.split(':')[5] === 'cluster-snapshot' && accountOf(arn) !== ctx.account
    ? { resourcePolicy: shareAsPolicy(arn, await ctx.lookup.sharedWith(region, lookupArn)) } : {};
  return { action, resource: arn, ...(tagged ? { resourceTags: await ctx.lookup.tags(region, lookupArn) } : {}), ...shared, ...extra };
}

/**
 * What sharing a cluster snapshot (its `restore` attribute) lets other accounts do, as a resource policy: describe,
 * copy and restore it. Their own IAM policies must allow it as well, as for any request across accounts.
 */
function shareAsPolicy(arn: string, accounts: string[]): PolicyDocument {
  const principals = accounts.map((a) => (a === 'all' ? '*' : `arn:aws:iam::${a}:root`));
  return {
    Version: '2012-10-17',
    Statement: principals.length === 0 ? [] : [{
      Effect: 'Allow',
      Principal: { AWS: principals },
      Action: ['rds:DescribeDBClusterSnapshots', 'rds:CopyDBClusterSnapshot', 'rds:RestoreDBClusterFromSnapshot'],
      Resource: arn,
    }],
  };
}

/** The ARN IAM authorizes a call naming a KMS key on: the key's, also when the call names it by an alias. */
async function keyResource(ctx: MapContext, keyId: string, region: string): Promise<string> {
  const arn = keyId.startsWith('arn:') ? keyId : `arn:aws:kms:${region}:${ctx.account}:${keyId.startsWith('alias/') ? keyId : `key/${keyId}`}`;
  return arn.includes(':alias/') ? ctx.lookup.keyOfAlias(arn) : arn;
}

/** The KMS requests RDS makes on the caller's behalf to use a key: a grant for itself, and the key's description. */
async function rdsKeyUse(ctx: MapContext, keyId: string | undefined, region: string): Promise<IamRequest[]> {
  if (!keyId) return [];
  const arn = await keyResource(ctx, keyId, region);
  const keyRegion = arn.split(':')[3];
  const via = { 'kms:ViaService': `rds.${keyRegion}.amazonaws.com`, 'kms:CallerAccount': ctx.account };
  return [
    { action: 'kms:CreateGrant', resource: arn, context: { ...via, 'kms:GrantIsForAWSResource': 'true' } },
    { action: 'kms:DescribeKey', resource: arn, context: via },
  ];
}

/** Creating with tags also authorizes tagging the new resource. */
function tagOnCreate(created: IamRequest, tags: Record<string, string> | undefined): IamRequest[] {
  return tags ? [{ action: 'rds:AddTagsToResource', resource: created.resource, resourceTags: created.resourceTags, requestTags: tags }] : [];
}

const major = (version: string | undefined) => (version ?? '16').split('.')[0];

const MAPPERS: Record<string, Mapper> = {
  'rds:DescribeDBClusters': async (p: Params, ctx) => [await rdsResource(ctx, 'rds:DescribeDBClusters', 'cluster', p.DBClusterIdentifier ?? '*')],
  'rds:DescribeDBInstances': async (p: Params, ctx) => [await rdsResource(ctx, 'rds:DescribeDBInstances', 'db', p.DBInstanceIdentifier ?? '*')],
  'rds:DescribeDBClusterSnapshots': async (p: Params, ctx) => {
    const out: IamRequest[] = [];
    if (p.DBClusterSnapshotIdentifier) out.push(await rdsResource(ctx, 'rds:DescribeDBClusterSnapshots', 'cluster-snapshot', p.DBClusterSnapshotIdentifier));
    if (p.DBClusterIdentifier) out.push(await rdsResource(ctx, 'rds:DescribeDBClusterSnapshots', 'cluster', p.DBClusterIdentifier));
    if (out.length === 0) out.push(await rdsResource(ctx, 'rds:DescribeDBClusterSnapshots', 'cluster-snapshot', '*'));
    return out;
  },
  'rds:ListTagsForResource': async (p: Params, ctx) => [await rdsResource(ctx, 'rds:ListTagsForResource', '?', p.ResourceName)],
  'rds:AddTagsToResource': async (p: Params, ctx) => [await rdsResource(ctx, 'rds:AddTagsToResource', '?', p.ResourceName, { requestTags: requestTags(p) ?? {} })],
  'rds:RemoveTagsFromResource': async (p: Params, ctx) => [await rdsResource(ctx, 'rds:RemoveTagsFromResource', '?', p.ResourceName, {
    requestTagKeys: Object.entries(p).filter(([k]) => /^TagKeys\.member\.\d+$/.test(k)).map(([, v]) => v),
  })],
  'rds:DeleteDBCluster': async (p: Params, ctx) => [
    await rdsResource(ctx, 'rds:DeleteDBCluster', 'cluster', p.DBClusterIdentifier),
    ...(p.FinalDBSnapshotIdentifier && p.SkipFinalSnapshot !== 'true'
      ? [await rdsResource(ctx, 'rds:DeleteDBCluster', 'cluster-snapshot', p.FinalDBSnapshotIdentifier)] : []),
  ],
  'rds:ModifyDBCluster': async (p: Params, ctx) => [
    await rdsResource(ctx, 'rds:ModifyDBCluster', 'cluster', p.DBClusterIdentifier),
    ...(p.DBClusterParameterGroupName ? [await rdsResource(ctx, 'rds:ModifyDBCluster', 'cluster-pg', p.DBClusterParameterGroupName)] : []),
  ],
  'rds:StartDBCluster': async (p: Params, ctx) => [await rdsResource(ctx, 'rds:StartDBCluster', 'cluster', p.DBClusterIdentifier)],
  'rds:StopDBCluster': async (p: Params, ctx) => [await rdsResource(ctx, 'rds:StopDBCluster', 'cluster', p.DBClusterIdentifier)],
  'rds:RebootDBCluster': async (p: Params, ctx) => [await rdsResource(ctx, 'rds:RebootDBCluster', 'cluster', p.DBClusterIdentifier)],
  'rds:DeleteDBInstance': async (p: Params, ctx) => [await rdsResource(ctx, 'rds:DeleteDBInstance', 'db', p.DBInstanceIdentifier)],
  'rds:DeleteDBClusterSnapshot': async (p: Params, ctx) => [await rdsResource(ctx, 'rds:DeleteDBClusterSnapshot', 'cluster-snapshot', p.DBClusterSnapshotIdentifier)],
  'rds:ModifyDBClusterSnapshotAttribute': async (p: Params, ctx) => [
    await rdsResource(ctx, 'rds:ModifyDBClusterSnapshotAttribute', 'cluster-snapshot', p.DBClusterSnapshotIdentifier),
  ],
  'rds:DescribeDBClusterSnapshotAttributes': async (p: Params, ctx) => [
    await rdsResource(ctx, 'rds:DescribeDBClusterSnapshotAttributes', 'cluster-snapshot', p.DBClusterSnapshotIdentifier),
  ],
  // The role's trust policy is the resource side (moto enforces it too: launcher fix assume-role-trust).
  'sts:AssumeRole': async (p: Params, ctx) => {
    const trust = await ctx.lookup.trustPolicy(p.RoleArn);
    return [{ action: 'sts:AssumeRole', resource: p.RoleArn, ...(trust ? { resourcePolicy: trust } : {}) }];
  },
  'rds:CreateDBClusterSnapshot': async (p: Params, ctx) => {
    const tags = requestTags(p);
    const snapshot = await rdsResource(ctx, 'rds:CreateDBClusterSnapshot', 'cluster-snapshot', p.DBClusterSnapshotIdentifier, { requestTags: tags });
    return [await rdsResource(ctx, 'rds:CreateDBClusterSnapshot', 'cluster', p.DBClusterIdentifier, { requestTags: tags }), snapshot, ...tagOnCreate(snapshot, tags)];
  },
  'rds:CopyDBClusterSnapshot': async (p: Params, ctx) => {
    const tags = requestTags(p);
    const source = await rdsResource(ctx, 'rds:CopyDBClusterSnapshot', 'cluster-snapshot', p.SourceDBClusterSnapshotIdentifier, { requestTags: tags });
    const copy = await rdsResource(ctx, 'rds:CopyDBClusterSnapshot', 'cluster-snapshot', p.TargetDBClusterSnapshotIdentifier, { requestTags: tags });
    const sourceRegion = source.resource.split(':')[3];
    const sourceInfo = await ctx.lookup.snapshot(sourceRegion, p.SourceDBClusterSnapshotIdentifier, ctx.account);
    const keys = [...await rdsKeyUse(ctx, p.KmsKeyId, ctx.region), ...await rdsKeyUse(ctx, sourceInfo?.kmsKeyId, sourceRegion)];
    return [source, copy, ...tagOnCreate(copy, tags), ...keys];
  },
  'rds:RestoreDBClusterFromSnapshot': async (p: Params, ctx) => {
    const tags = requestTags(p);
    const cluster = await rdsResource(ctx, 'rds:RestoreDBClusterFromSnapshot', 'cluster', p.DBClusterIdentifier, { requestTags: tags });
    const snapshot = await rdsResource(ctx, 'rds:RestoreDBClusterFromSnapshot', 'cluster-snapshot', p.SnapshotIdentifier, { requestTags: tags });
    const snapshotRegion = snapshot.resource.split(':')[3];
    const info = await ctx.lookup.snapshot(snapshotRegion, p.SnapshotIdentifier, ctx.account);
    const version = major(p.EngineVersion ?? info?.engineVersion);
    const other = (type: string, name: string) => rdsResource(ctx, 'rds:RestoreDBClusterFromSnapshot', type, name, { requestTags: tags });
    const snapshotKey = info?.kmsKeyId && info.kmsKeyId !== p.KmsKeyId ? await rdsKeyUse(ctx, info.kmsKeyId, snapshotRegion) : [];
    const keys = [...await rdsKeyUse(ctx, p.KmsKeyId, ctx.region), ...snapshotKey];
    return [
      cluster, snapshot,
      await other('subgrp', p.DBSubnetGroupName ?? 'default'),
      await other('cluster-pg', p.DBClusterParameterGroupName ?? `default.aurora-postgresql${version}`),
      await other('og', p.OptionGroupName ?? `default:aurora-postgresql-${version}`),
      ...tagOnCreate(cluster, tags), ...keys,
    ];
  },
  'rds:CreateDBInstance': async (p: Params, ctx) => {
    const tags = requestTags(p);
    const instance = await rdsResource(ctx, 'rds:CreateDBInstance', 'db', p.DBInstanceIdentifier, { requestTags: tags });
    const clusterVersion = p.DBClusterIdentifier ? await ctx.lookup.clusterEngineVersion(ctx.region, p.DBClusterIdentifier, ctx.account) : undefined;
    const version = major(p.EngineVersion ?? clusterVersion);
    const other = (type: string, name: string) => rdsResource(ctx, 'rds:CreateDBInstance', type, name, { requestTags: tags });
    return [
      instance,
      ...(p.DBClusterIdentifier ? [await other('cluster', p.DBClusterIdentifier)] : []),
      await other('pg', p.DBParameterGroupName ?? `default.aurora-postgresql${version}`),
      await other('og', p.OptionGroupName ?? `default:aurora-postgresql-${version}`),
      ...tagOnCreate(instance, tags),
    ];
  },
  ...Object.fromEntries(['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query'].map((op) => [`dynamodb:${op}`,
    async (p: { TableName: string }, ctx: MapContext) => [{ action: `dynamodb:${op}`, resource: `arn:aws:dynamodb:${ctx.region}:${ctx.account}:table/${p.TableName}` }]])),
  // A transaction is authorized item by item, each with the action it performs.
  'dynamodb:TransactWriteItems': async (p: { TransactItems: Record<string, { TableName: string }>[] }, ctx: MapContext) => p.TransactItems.flatMap((item) =>
    Object.entries(item).map(([kind, op]) => ({
      action: `dynamodb:${kind === 'ConditionCheck' ? 'ConditionCheckItem' : `${kind}Item`}`,
      resource: `arn:aws:dynamodb:${ctx.region}:${ctx.account}:table/${op.TableName}`,
    }))),
  'rds:DescribeDBSubnetGroups': async (p: Params, ctx) => [await rdsResource(ctx, 'rds:DescribeDBSubnetGroups', 'subgrp', p.DBSubnetGroupName ?? '*')],
  // No resource type: IAM authorizes these on "*".
  'rds:DescribeAccountAttributes': async () => [{ action: 'rds:DescribeAccountAttributes', resource: '*' }],
  'rds:DescribeDBEngineVersions': async () => [{ action: 'rds:DescribeDBEngineVersions', resource: '*' }],
  'ec2:DescribeSecurityGroups': async () => [{ action: 'ec2:DescribeSecurityGroups', resource: '*' }],
  'kms:DescribeKey': async (p: { KeyId: string }, ctx) => [{
    action: 'kms:DescribeKey',
    resource: await keyResource(ctx, p.KeyId, ctx.region),
  }],
  'states:DescribeExecution': async (p: { executionArn: string }) => [{ action: 'states:DescribeExecution', resource: p.executionArn }],
  'sns:Publish': async (p: { TopicArn: string }) => [{ action: 'sns:Publish', resource: p.TopicArn }],
  'secretsmanager:GetSecretValue': async (p: { SecretId: string }, ctx) => [
    { action: 'secretsmanager:GetSecretValue', resource: await ctx.lookup.secretArn(ctx.region, p.SecretId) },
  ],
};
