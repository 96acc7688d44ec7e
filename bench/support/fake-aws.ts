/*
 * An in-process AWS endpoint for the handler bundles (AWS_ENDPOINT_URL), on the virtual clock: a held RDS whose
 * operations take the scenario's durations, and the few DynamoDB and Secrets Manager calls the wait loops make.
 *
 * RDS (query protocol, XML): DescribeDBClusterSnapshots, CopyDBClusterSnapshot, DeleteDBClusterSnapshot,
 * DescribeDBClusters, RestoreDBClusterFromSnapshot, DeleteDBCluster (with its final snapshot), DescribeDBInstances,
 * CreateDBInstance, DeleteDBInstance, ModifyDBCluster (the master password, a rename, deletion protection, tags to
 * snapshots), AddTagsToResource, ListTagsForResource. A scenario may start with an existing target (its cluster and
 * writer, tagged as the pipeline's) that DELETE_FIRST deletes or a swap renames away. DynamoDB (JSON): GetItem, PutItem, UpdateItem, Query, TransactWriteItems, on an in-memory
 * table without condition checks (one writer per pipeline: the lock holder). Secrets Manager: GetSecretValue.
 * Anything else answers 400 `UnsupportedOperation`, so a handler that starts calling something new shows up.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { VirtualClock } from './virtual-clock';

/** How long the held RDS takes, in seconds. */
export interface RdsDurations {
  readonly copySeconds: number;
  readonly restoreSeconds: number;
  readonly passwordResetSeconds: number;
  /** Deleting an instance (DeleteDBInstance until RDS no longer lists it). Default 360. */
  readonly instanceDeleteSeconds?: number;
  /**
   * Deleting a cluster (DeleteDBCluster, final snapshot included) once it has no instances: from the request, or from
   * the last instance gone when RDS took the request while its instances were still deleting. Default 240.
   */
  readonly clusterDeleteSeconds?: number;
  /** A cluster rename (ModifyDBCluster NewDBClusterIdentifier). Default 60. */
  readonly renameSeconds?: number;
}

/** What RDS finished, for the detection lag: a copy, a restore, a password reset, a delete (instance or cluster gone), a rename. */
export type CompletionKind = 'copy' | 'restore' | 'passwordReset' | 'delete' | 'rename';

/** One RDS call, at virtual time. */
export interface RdsCall {
  readonly action: string;
  readonly at: number;
}

/** When RDS finished an operation and when a describe call first saw it finished (epoch ms, virtual). */
export interface Completion {
  readonly kind: CompletionKind;
  /** What a describe call must look at to see it (`cluster:<id>`, `gone:<id>`, `snapshot:<id>`). */
  readonly key: string;
  readonly finishedAt: number;
  seenAt?: number;
}

interface Snapshot { id: string; arn: string; startedAt: number; seconds: number; tags: Tag[]; cluster?: string }
interface Cluster {
  id: string;
  arn: string;
  startedAt: number;
  seconds: number;
  tags: Tag[];
  resetAt?: number;
  deletingUntil?: number;
  renaming?: { to: string; until: number };
  copyTagsToSnapshot?: boolean;
  finalSnapshot?: string;
}
interface Instance { id: string; cluster: string; arn: string; tags: Tag[]; deletingUntil?: number }
interface Tag { Key: string; Value: string }
type DynamoItem = Record<string, unknown>;

const ACCOUNT = '123456789012';

function esc(v: unknown): string {
  return String(v).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
function tagXml(tags: Tag[]): string {
  return `<TagList>${tags.map((t) => `<Tag><Key>${esc(t.Key)}</Key><Value>${esc(t.Value)}</Value></Tag>`).join('')}</TagList>`;
}
function fields(obj: Record<string, unknown>): string {
  return Object.entries(obj).filter(([, v]) => v !== undefined).map(([k, v]) => `<${k}>${esc(v)}</${k}>`).join('');
}
function tagsOf(form: URLSearchParams): Tag[] {
  const tags = new Map<string, Partial<Tag>>();
  for (const [k, v] of form) {
    const m = /^Tags\.(?:Tag|member)\.(\d+)\.(Key|Value)$/.exec(k);
    if (m) tags.set(m[1], { ...tags.get(m[1]), [m[2]]: v });
  }
  return [...tags.values()].filter((t): t is Tag => t.Key !== undefined).map((t) => ({ Key: t.Key, Value: t.Value ?? '' }));
}

/** The fake endpoint. One per benchmark process; {@link FakeAws.reset} between scenarios. */
export class FakeAws {
  /** Every RDS call of the current scenario. */
  readonly rdsCalls: RdsCall[] = [];
  /** The in-memory state table (and audit table), by table and partition key. */
  readonly items = new Map<string, DynamoItem>();
  private snapshots = new Map<string, Snapshot>();
  private clusters = new Map<string, Cluster>();
  private instances = new Map<string, Instance>();
  private server?: http.Server;
  /** Completions of the current scenario. */
  readonly completions: Completion[] = [];

  constructor(private readonly clock: VirtualClock, private durations: RdsDurations, private readonly region: string) {}

  /** Starts listening on a free local port; returns the endpoint URL. */
  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        try {
          const out = this.handle(String(req.headers['x-amz-target'] ?? ''), body);
          res.writeHead(out.status, { 'content-type': out.type, 'content-length': Buffer.byteLength(out.body) });
          res.end(out.body);
        } catch (e) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(String(e));
        }
      });
    });
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Stops the server. */
  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** A clean RDS and table for the next scenario, with these durations; `keep` keeps items whose key starts with it. */
  reset(durations: RdsDurations, keep?: string): void {
    this.durations = durations;
    this.rdsCalls.length = 0;
    this.snapshots.clear();
    this.clusters.clear();
    this.instances.clear();
    for (const k of [...this.items.keys()]) if (!keep || !k.includes(keep)) this.items.delete(k);
    this.completions.length = 0;
  }

  /** An existing, available cluster with one writer, both tagged with `tags` (the target a replace deletes or renames away). */
  seedCluster(id: string, tags: Tag[]): void {
    const at = this.clock.now();
    this.clusters.set(id, { id, arn: this.clusterArn(id), startedAt: at, seconds: 0, tags: [...tags], copyTagsToSnapshot: false });
    const writer = `${id}-writer`;
    this.instances.set(writer, { id: writer, cluster: id, arn: `arn:aws:rds:${this.region}:${ACCOUNT}:db:${writer}`, tags: [...tags] });
  }

  /** Detection lag per kind: the sum of the seconds between RDS finishing and a check seeing it; undefined for kinds that did not occur. */
  lags(): Partial<Record<CompletionKind, number>> {
    const out: Partial<Record<CompletionKind, number>> = {};
    for (const c of this.completions) {
      if (c.seenAt !== undefined) out[c.kind] = (out[c.kind] ?? 0) + (c.seenAt - c.finishedAt) / 1000;
    }
    return out;
  }

  private clusterArn(id: string): string {
    return `arn:aws:rds:${this.region}:${ACCOUNT}:cluster:${id}`;
  }

  private finish(kind: CompletionKind, key: string, finishedAt: number): void {
    this.completions.push({ kind, key, finishedAt });
  }

  /** Drops completions no check waits for any more. */
  private forget(unwaited: (c: Completion) => boolean): void {
    for (let k = this.completions.length - 1; k >= 0; k--) if (unwaited(this.completions[k])) this.completions.splice(k, 1);
  }

  /** A describe call looked at `key` at `now`: what had finished by then is seen. */
  private see(key: string, now: number): void {
    for (const c of this.completions) if (c.key === key && c.seenAt === undefined && now >= c.finishedAt) c.seenAt = now;
  }

  /** Applies what finished by `now`: deleted instances and clusters disappear, renamed clusters take their new identifier. */
  private settle(now: number): void {
    for (const [id, i] of this.instances) if (i.deletingUntil !== undefined && now >= i.deletingUntil) this.instances.delete(id);
    for (const [id, c] of [...this.clusters]) {
      if (c.deletingUntil !== undefined && now >= c.deletingUntil) {
        this.clusters.delete(id);
        const snap = c.finalSnapshot ? this.snapshots.get(c.finalSnapshot) : undefined;
        if (snap) snap.seconds = 0;
      } else if (c.renaming && now >= c.renaming.until) {
        this.clusters.delete(id);
        const to = c.renaming.to;
        c.id = to;
        c.arn = this.clusterArn(to);
        c.renaming = undefined;
        this.clusters.set(to, c);
        for (const i of this.instances.values()) if (i.cluster === id) i.cluster = to;
      }
    }
  }

  private members(clusterId: string): Instance[] {
    return [...this.instances.values()].filter((i) => i.cluster === clusterId);
  }

  /** Writes an item (plain values) into a table, as the stubbed SnapshotCheck does for the lock. */
  putPlain(table: string, item: Record<string, unknown>): void {
    const typed: DynamoItem = {};
    for (const [k, v] of Object.entries(item)) typed[k] = toAttr(v);
    this.items.set(`${table}|${(item.operation_id as string)}`, typed);
  }

  /** Reads an item back as plain values. */
  getPlain(table: string, key: string): Record<string, unknown> | undefined {
    const item = this.items.get(`${table}|${key}`);
    return item ? Object.fromEntries(Object.entries(item).map(([k, v]) => [k, fromAttr(v)])) : undefined;
  }

  private handle(target: string, body: string): { status: number; type: string; body: string } {
    if (target.startsWith('DynamoDB_20120810.')) return json(this.dynamo(target.split('.')[1], JSON.parse(body || '{}')), '1.0');
    if (target.startsWith('secretsmanager.')) {
      if (target !== 'secretsmanager.GetSecretValue') return jsonError('UnsupportedOperation', target);
      const req = JSON.parse(body) as { SecretId: string };
      return json({ ARN: req.SecretId, Name: 'master', SecretString: JSON.stringify({ username: 'postgres', password: 'Bench-only-passw0rd' }) }, '1.1');
    }
    const form = new URLSearchParams(body);
    const action = form.get('Action');
    if (!action) return jsonError('UnsupportedOperation', `no target or action (${target})`);
    this.rdsCalls.push({ action, at: this.clock.now() });
    return this.rds(action, form);
  }

  private rds(action: string, form: URLSearchParams): { status: number; type: string; body: string } {
    const now = this.clock.now();
    const ok = (inner: string) => ({
      status: 200,
      type: 'text/xml',
      body: `<${action}Response xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><${action}Result>${inner}</${action}Result>`
        + `<ResponseMetadata><RequestId>bench</RequestId></ResponseMetadata></${action}Response>`,
    });
    const fault = (code: string, status = 404) => ({
      status,
      type: 'text/xml',
      body: `<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${code}</Message></Error><RequestId>bench</RequestId></ErrorResponse>`,
    });
    this.settle(now);
    const byArn = (arn: string | null) => [...this.snapshots.values(), ...this.clusters.values(), ...this.instances.values()]
      .find((r) => r.arn === arn);
    switch (action) {
      case 'DescribeDBClusterSnapshots': {
        const id = form.get('DBClusterSnapshotIdentifier');
        if (id === null) {
          const cluster = form.get('DBClusterIdentifier');
          const listed = [...this.snapshots.values()].filter((x) => cluster === null || x.cluster === cluster);
          return ok(`<DBClusterSnapshots>${listed.map((x) => this.snapshotXml(x, now)).join('')}</DBClusterSnapshots>`);
        }
        const s = this.snapshots.get(id);
        return s ? ok(`<DBClusterSnapshots>${this.snapshotXml(s, now)}</DBClusterSnapshots>`) : fault('DBClusterSnapshotNotFoundFault');
      }
      case 'CopyDBClusterSnapshot': {
        const id = form.get('TargetDBClusterSnapshotIdentifier')!;
        const s: Snapshot = { id, arn: `arn:aws:rds:${this.region}:${ACCOUNT}:cluster-snapshot:${id}`, startedAt: now, seconds: this.durations.copySeconds, tags: tagsOf(form) };
        this.snapshots.set(id, s);
        this.finish('copy', `snapshot:${id}`, now + s.seconds * 1000);
        return ok(this.snapshotXml(s, now));
      }
      case 'DeleteDBClusterSnapshot': {
        const id = form.get('DBClusterSnapshotIdentifier') ?? '';
        const s = this.snapshots.get(id);
        if (!s) return fault('DBClusterSnapshotNotFoundFault');
        this.snapshots.delete(id);
        return ok(this.snapshotXml(s, now));
      }
      case 'DescribeDBClusters': {
        const id = form.get('DBClusterIdentifier') ?? '';
        const c = this.clusters.get(id);
        if (!c) {
          this.see(`gone:${id}`, now);
          return fault('DBClusterNotFoundFault');
        }
        this.see(`cluster:${id}`, now);
        return ok(`<DBClusters>${this.clusterXml(c, now)}</DBClusters>`);
      }
      case 'RestoreDBClusterFromSnapshot': {
        const id = form.get('DBClusterIdentifier')!;
        if (this.clusters.has(id)) return fault('DBClusterAlreadyExistsFault', 400);
        const c: Cluster = { id, arn: this.clusterArn(id), startedAt: now, seconds: this.durations.restoreSeconds, tags: tagsOf(form) };
        this.clusters.set(id, c);
        this.finish('restore', `cluster:${id}`, now + c.seconds * 1000);
        return ok(this.clusterXml(c, now));
      }
      case 'DeleteDBCluster': {
        const id = form.get('DBClusterIdentifier') ?? '';
        const c = this.clusters.get(id);
        if (!c) return fault('DBClusterNotFoundFault');
        // RDS's rule: "You can't delete a DB cluster if it contains DB instances that aren't in the deleting state".
        const members = this.members(id);
        const undeleted = members.some((i) => i.deletingUntil === undefined);
        if (c.deletingUntil !== undefined || c.renaming || undeleted) return fault('InvalidDBClusterStateFault', 400);
        const finalId = form.get('FinalDBSnapshotIdentifier');
        if (finalId && this.snapshots.has(finalId)) return fault('DBClusterSnapshotAlreadyExistsFault', 400);
        // Taken while instances are still deleting, the cluster goes after the last of them (conservative: the request
        // saves the pipeline a wait and its detection, not RDS its time).
        const lastInstanceGone = Math.max(now, ...members.map((i) => i.deletingUntil!));
        const until = lastInstanceGone + (this.durations.clusterDeleteSeconds ?? 240) * 1000;
        c.deletingUntil = until;
        // Nobody waits for those instances any more: their completions are no detection lag.
        this.forget((k) => k.kind === 'delete' && k.key === `cluster:${id}` && k.seenAt === undefined);
        if (finalId) {
          c.finalSnapshot = finalId;
          this.snapshots.set(finalId, {
            id: finalId, arn: `arn:aws:rds:${this.region}:${ACCOUNT}:cluster-snapshot:${finalId}`, startedAt: now, seconds: 1e9, cluster: id, tags: c.copyTagsToSnapshot ? [...c.tags] : [],
          });
        }
        this.finish('delete', `gone:${id}`, until);
        return ok(this.clusterXml(c, now));
      }
      case 'DescribeDBInstances': {
        const i = this.instances.get(form.get('DBInstanceIdentifier') ?? '');
        return i ? ok(`<DBInstances>${this.instanceXml(i, now)}</DBInstances>`) : fault('DBInstanceNotFound');
      }
      case 'CreateDBInstance': {
        const id = form.get('DBInstanceIdentifier')!;
        const i: Instance = { id, cluster: form.get('DBClusterIdentifier')!, arn: `arn:aws:rds:${this.region}:${ACCOUNT}:db:${id}`, tags: tagsOf(form) };
        this.instances.set(id, i);
        return ok(this.instanceXml(i, now));
      }
      case 'DeleteDBInstance': {
        const i = this.instances.get(form.get('DBInstanceIdentifier') ?? '');
        if (!i) return fault('DBInstanceNotFound');
        if (i.deletingUntil !== undefined) return fault('InvalidDBInstanceState', 400);
        i.deletingUntil = now + (this.durations.instanceDeleteSeconds ?? 360) * 1000;
        // The check that sees the cluster without it (DBClusterMembers) has seen the deletion.
        this.finish('delete', `cluster:${i.cluster}`, i.deletingUntil);
        return ok(this.instanceXml(i, now));
      }
      case 'ModifyDBCluster': {
        const c = this.clusters.get(form.get('DBClusterIdentifier') ?? '');
        if (!c) return fault('DBClusterNotFoundFault');
        const to = form.get('NewDBClusterIdentifier');
        if (to) {
          if (c.renaming || c.deletingUntil !== undefined) return fault('InvalidDBClusterStateFault', 400);
          if (this.clusters.has(to)) return fault('DBClusterAlreadyExistsFault', 400);
          const until = now + (this.durations.renameSeconds ?? 60) * 1000;
          c.renaming = { to, until };
          this.finish('rename', `cluster:${to}`, until);
        }
        if (form.get('CopyTagsToSnapshot') === 'true') c.copyTagsToSnapshot = true;
        if (form.get('MasterUserPassword')) {
          c.resetAt = now;
          this.finish('passwordReset', `cluster:${c.id}`, now + this.durations.passwordResetSeconds * 1000);
        }
        return ok(this.clusterXml(c, now));
      }
      case 'AddTagsToResource': {
        const found = byArn(form.get('ResourceName'));
        if (!found) return fault('DBClusterNotFoundFault');
        for (const t of tagsOf(form)) {
          const existing = found.tags.find((x) => x.Key === t.Key);
          if (existing) existing.Value = t.Value;
          else found.tags.push(t);
        }
        return ok('');
      }
      case 'ListTagsForResource':
        return ok(tagXml(byArn(form.get('ResourceName'))?.tags ?? []));
      default:
        return fault('UnsupportedOperation', 400);
    }
  }

  private snapshotXml(s: Snapshot, now: number): string {
    const elapsed = (now - s.startedAt) / 1000;
    const done = elapsed >= s.seconds;
    if (done) this.see(`snapshot:${s.id}`, now);
    return `<DBClusterSnapshot>${fields({
      DBClusterSnapshotIdentifier: s.id,
      DBClusterSnapshotArn: s.arn,
      Status: done ? 'available' : 'copying',
      // RDS reports whole percents, truncated.
      PercentProgress: done ? 100 : Math.floor((100 * elapsed) / s.seconds),
      Engine: 'aurora-postgresql',
      StorageEncrypted: true,
      KmsKeyId: `arn:aws:kms:${this.region}:${ACCOUNT}:key/bench`,
      SnapshotType: 'manual',
    })}${tagXml(s.tags)}</DBClusterSnapshot>`;
  }

  private clusterStatus(c: Cluster, now: number): { status: string; pending: boolean } {
    if (c.deletingUntil !== undefined) return { status: 'deleting', pending: false };
    if (c.renaming) return { status: 'renaming', pending: false };
    if ((now - c.startedAt) / 1000 < c.seconds) return { status: 'creating', pending: false };
    if (c.resetAt !== undefined && (now - c.resetAt) / 1000 < this.durations.passwordResetSeconds) return { status: 'resetting-master-credentials', pending: true };
    return { status: 'available', pending: false };
  }

  private clusterXml(c: Cluster, now: number): string {
    const { status, pending } = this.clusterStatus(c, now);
    const members = this.members(c.id).map((i) => `<DBClusterMember><DBInstanceIdentifier>${esc(i.id)}</DBInstanceIdentifier><IsClusterWriter>true</IsClusterWriter></DBClusterMember>`);
    return `<DBCluster>${fields({
      DBClusterIdentifier: c.id,
      DBClusterArn: c.arn,
      Status: status,
      Engine: 'aurora-postgresql',
      EngineVersion: '16.4',
      Endpoint: `${c.id}.cluster-bench.${this.region}.rds.amazonaws.com`,
      ReaderEndpoint: `${c.id}.cluster-ro-bench.${this.region}.rds.amazonaws.com`,
      Port: 5432,
      MasterUsername: 'postgres',
      DeletionProtection: false,
      CopyTagsToSnapshot: c.copyTagsToSnapshot ?? false,
    })}<DBClusterMembers>${members.join('')}</DBClusterMembers>`
      + `${pending ? '<PendingModifiedValues><MasterUserPassword>****</MasterUserPassword></PendingModifiedValues>' : ''}${tagXml(c.tags)}</DBCluster>`;
  }

  private instanceXml(i: Instance, now: number): string {
    const c = this.clusters.get(i.cluster);
    const ready = c !== undefined && (now - c.startedAt) / 1000 >= c.seconds;
    const status = i.deletingUntil !== undefined ? 'deleting' : ready ? 'available' : 'creating';
    return `<DBInstance>${fields({ DBInstanceIdentifier: i.id, DBInstanceArn: i.arn, DBClusterIdentifier: i.cluster, DBInstanceStatus: status })}${tagXml(i.tags)}</DBInstance>`;
  }

  private dynamo(op: string, req: Record<string, any>): unknown {
    const keyOf = (table: string, key: Record<string, any>) => `${table}|${fromAttr(key.operation_id) as string}`;
    switch (op) {
      case 'GetItem': {
        const item = this.items.get(keyOf(req.TableName, req.Key));
        return item ? { Item: item } : {};
      }
      case 'PutItem':
        // The audit trail is not needed here: keep only the state table's items.
        if (!req.Item.time_step) this.items.set(keyOf(req.TableName, req.Item), req.Item);
        return {};
      case 'UpdateItem':
      case 'TransactWriteItems':
        return {};
      case 'Query':
        return { Items: [], Count: 0 };
      default:
        throw new Error(`DynamoDB ${op} is not faked`);
    }
  }
}

function json(body: unknown, version: '1.0' | '1.1'): { status: number; type: string; body: string } {
  return { status: 200, type: `application/x-amz-json-${version}`, body: JSON.stringify(body) };
}
function jsonError(code: string, message: string): { status: number; type: string; body: string } {
  return { status: 400, type: 'application/x-amz-json-1.1', body: JSON.stringify({ __type: code, message }) };
}

/** A plain value as a DynamoDB attribute value. */
export function toAttr(v: unknown): unknown {
  if (typeof v === 'string') return { S: v };
  if (typeof v === 'number') return { N: String(v) };
  if (typeof v === 'boolean') return { BOOL: v };
  if (Array.isArray(v)) return { L: v.map(toAttr) };
  if (v && typeof v === 'object') return { M: Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toAttr(x)])) };
  return { NULL: true };
}

/** A DynamoDB attribute value as a plain value. */
export function fromAttr(a: any): unknown {
  if (a === undefined) return undefined;
  if ('S' in a) return a.S;
  if ('N' in a) return Number(a.N);
  if ('BOOL' in a) return a.BOOL;
  if ('L' in a) return (a.L as unknown[]).map(fromAttr);
  if ('M' in a) return Object.fromEntries(Object.entries(a.M as Record<string, unknown>).map(([k, x]) => [k, fromAttr(x)]));
  return null;
}
