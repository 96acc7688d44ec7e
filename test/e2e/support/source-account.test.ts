/*
 * The source account of the cross-account scenarios, as moto holds it, and the IAM recorder across accounts: a
 * function's AssumeRole (the trust policy enforced by moto, the caller's role named by the recorder), calls made
 * with the role's temporary keys recorded as the role's in its account, and the pipeline's restore from a shared
 * snapshot decided with the share and the share key's policy.
 */
import {
  CopyDBClusterSnapshotCommand, CreateDBClusterCommand, CreateDBClusterSnapshotCommand, ModifyDBClusterSnapshotAttributeCommand, RDSClient,
  RestoreDBClusterFromSnapshotCommand,
} from '@aws-sdk/client-rds';
import { provisionSourceAccount, SOURCE_ACCOUNT, type SourceAccount } from './source-account';
import { ACCOUNT, TARGET_REGION } from './stacks';
import { decideAs } from '../../support/iam-policies';
import { functionAccessKey, startIamRecorder, type IamRecorder } from '../../support/iam-recorder';
import { startMoto, type MotoServer } from '../../support/moto';
import { awsJsonCall, awsQueryCall } from '../../support/moto-json-api';
import { MOTO_CREDENTIALS } from '../../support/template-provision';

jest.setTimeout(600_000);

const SOURCE_REGION = 'us-east-1';
const PIPELINE_ROLE = `arn:aws:iam::${ACCOUNT}:role/pipeline-copy-snapshot`;
const PIPELINE_SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/pipeline-copy-snapshot/copy-snapshot-fn`;
const OTHER_SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/another-function/other-fn`;

let moto: MotoServer;
let source: SourceAccount;
let recorder: IamRecorder;

beforeAll(async () => {
  moto = await startMoto();
  source = await provisionSourceAccount(moto);
  recorder = await startIamRecorder({
    target: moto.endpoint,
    account: ACCOUNT,
    credentials: MOTO_CREDENTIALS,
    accounts: { [SOURCE_ACCOUNT]: source.credentials },
    callerArnOf: (fn) => ({ CopySnapshot: PIPELINE_SESSION, Other: OTHER_SESSION } as Record<string, string>)[fn],
  });
});
afterAll(async () => {
  await recorder?.close();
  await moto?.stop();
});

/** Assumes `roleArn` through the recorder as function `fn`; the role's temporary credentials. */
async function assume(fn: string, roleArn: string) {
  const out = await awsQueryCall({ endpoint: recorder.endpoint, region: TARGET_REGION, accessKeyId: functionAccessKey(fn) }, 'sts', 'AssumeRole', {
    RoleArn: roleArn, RoleSessionName: 'arp-op-1',
  });
  return { accessKeyId: out.text('AccessKeyId')!, secretAccessKey: out.text('SecretAccessKey')!, sessionToken: out.text('SessionToken')! };
}

test('the companion\'s role (trusting the pipeline\'s account) and share key (its key policy) exist in the source account', async () => {
  expect(source.roleArn).toMatch(new RegExp(`^arn:aws:iam::${SOURCE_ACCOUNT}:role/`));
  expect(source.shareKeyArn).toMatch(new RegExp(`^arn:aws:kms:${TARGET_REGION}:${SOURCE_ACCOUNT}:key/`));
  const role = await awsQueryCall(source.json(SOURCE_REGION), 'iam', 'GetRole', { RoleName: source.roleArn.split('/').pop()! });
  expect(decodeURIComponent(role.text('AssumeRolePolicyDocument')!)).toContain(`arn:aws:iam::${ACCOUNT}:root`);
  const policy = JSON.parse((await awsJsonCall(source.json(TARGET_REGION), 'kms', 'GetKeyPolicy', { KeyId: source.shareKeyArn, PolicyName: 'default' })).Policy);
  expect(policy).toEqual(source.keyPolicies.get(source.shareKeyArn));
  expect(JSON.stringify(source.roles[0].policies)).toContain(source.shareKeyArn);
});

test('the recorder: AssumeRole as a function, the role\'s calls recorded as the role\'s in its account and allowed by its policies', async () => {
  const credentials = await assume('CopySnapshot', source.roleArn);
  const assumeCall = recorder.calls.at(-1)!;
  expect(recorder.temporarySecrets).toEqual(expect.arrayContaining([credentials.secretAccessKey, credentials.sessionToken]));
  expect(assumeCall).toMatchObject({ functionLogicalId: 'CopySnapshot', action: 'sts:AssumeRole', requests: [{ action: 'sts:AssumeRole', resource: source.roleArn }] });
  // The trust policy is the resource policy: the pipeline's account is let in, another account is not.
  const assumer = [{ name: 'assume', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: source.roleArn }] } }];
  expect(await decideAs(PIPELINE_ROLE, assumer, assumeCall.requests[0], new Map(), ACCOUNT)).toBe('Allowed');
  expect(await decideAs('arn:aws:iam::222222222222:role/x', assumer, assumeCall.requests[0], new Map(), '222222222222')).toBe('ImplicitlyDenied');
  expect(assumeCall.assumedRole).toBeUndefined();

  // As the role: a shareable copy of a source snapshot, tagged, into the share key; then shared with the pipeline's account.
  const admin = source.rds(SOURCE_REGION);
  await admin.send(new CreateDBClusterCommand({
    DBClusterIdentifier: 'prod-aurora',
    Engine: 'aurora-postgresql',
    MasterUsername: 'postgres',
    MasterUserPassword: 'source-password-1',
    StorageEncrypted: true,
    KmsKeyId: (await moto.awsManagedKey(SOURCE_REGION, SOURCE_ACCOUNT)).arn,
  }));
  const snap = (await admin.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: 'prod-aurora', DBClusterSnapshotIdentifier: 'prod-aurora-1' }))).DBClusterSnapshot!;
  const asRole = new RDSClient({ region: TARGET_REGION, endpoint: recorder.endpoint, credentials, maxAttempts: 1 });
  const tag = { Key: 'aurora-restore-pipeline:share-of', Value: 'prod-aurora' };
  const copy = (await asRole.send(new CopyDBClusterSnapshotCommand({
    SourceDBClusterSnapshotIdentifier: snap.DBClusterSnapshotArn, TargetDBClusterSnapshotIdentifier: 'arp-share-staging-aurora-1', KmsKeyId: source.shareKeyArn, Tags: [tag],
  }))).DBClusterSnapshot!;
  expect(copy.DBClusterSnapshotArn).toBe(`arn:aws:rds:${TARGET_REGION}:${SOURCE_ACCOUNT}:cluster-snapshot:arp-share-staging-aurora-1`);
  await asRole.send(new ModifyDBClusterSnapshotAttributeCommand({ DBClusterSnapshotIdentifier: copy.DBClusterSnapshotIdentifier, AttributeName: 'restore', ValuesToAdd: [ACCOUNT] }));

  const [copyCall, shareCall] = recorder.calls.slice(-2);
  const session = { roleArn: source.roleArn, account: SOURCE_ACCOUNT, functionLogicalId: 'CopySnapshot' };
  expect(copyCall).toMatchObject({ assumedRole: session, action: 'rds:CopyDBClusterSnapshot' });
  expect(copyCall.requests.map((r) => `${r.action} ${r.resource}`)).toEqual(expect.arrayContaining([
    `rds:CopyDBClusterSnapshot ${snap.DBClusterSnapshotArn}`,
    `rds:CopyDBClusterSnapshot ${copy.DBClusterSnapshotArn}`,
    `rds:AddTagsToResource ${copy.DBClusterSnapshotArn}`,
    `kms:CreateGrant ${source.shareKeyArn}`,
  ]));
  expect(shareCall).toMatchObject({
    assumedRole: session,
    requests: [{ action: 'rds:ModifyDBClusterSnapshotAttribute', resource: copy.DBClusterSnapshotArn, resourceTags: { [tag.Key]: tag.Value } }],
  });
  const role = source.roles[0];
  for (const request of [...copyCall.requests, ...shareCall.requests]) {
    expect([request.action, request.resource, await decideAs(role.roleArn, role.policies, request, source.keyPolicies, SOURCE_ACCOUNT)])
      .toEqual([request.action, request.resource, 'Allowed']);
  }

  // The pipeline's account restores from the shared copy: the share stands as the snapshot's resource policy,
  // and RDS uses the share key on behalf of the pipeline's account.
  const pipeline = new RDSClient({ region: TARGET_REGION, endpoint: recorder.endpoint, credentials: { accessKeyId: functionAccessKey('RestoreSnapshot'), secretAccessKey: 'x' }, maxAttempts: 1 });
  await pipeline.send(new RestoreDBClusterFromSnapshotCommand({ DBClusterIdentifier: 'staging-aurora', SnapshotIdentifier: copy.DBClusterSnapshotArn, Engine: 'aurora-postgresql' }));
  const restore = recorder.calls.at(-1)!;
  expect(restore.assumedRole).toBeUndefined();
  const onSnapshot = restore.requests.find((r) => r.resource === copy.DBClusterSnapshotArn)!;
  expect(onSnapshot.resourcePolicy!.Statement).toEqual([expect.objectContaining({ Principal: { AWS: [`arn:aws:iam::${ACCOUNT}:root`] } })]);
  const grant = restore.requests.find((r) => r.action === 'kms:CreateGrant')!;
  expect(grant).toMatchObject({ resource: source.shareKeyArn, context: { 'kms:CallerAccount': ACCOUNT, 'kms:ViaService': `rds.${TARGET_REGION}.amazonaws.com` } });
  const restorer = [{ name: 'restore', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['rds:RestoreDBClusterFromSnapshot', 'kms:CreateGrant'], Resource: '*' }] } }];
  const asPipeline = (r: typeof grant) => decideAs(`arn:aws:iam::${ACCOUNT}:role/restore`, restorer, r, source.keyPolicies, ACCOUNT);
  expect(await asPipeline(onSnapshot)).toBe('Allowed');
  expect(await asPipeline(grant)).toBe('Allowed');
  // Not shared (any more): no resource policy lets the pipeline's account in.
  expect(await asPipeline({ ...onSnapshot, resourcePolicy: { Version: '2012-10-17', Statement: [] } })).toBe('ImplicitlyDenied');
  expect(await asPipeline({ ...grant, context: { ...grant.context, 'kms:CallerAccount': '222222222222' } })).toBe('ImplicitlyDenied');
  expect(recorder.calls.filter((c) => c.unmapped)).toEqual([]);
});

test('the recorder names the function\'s role to moto, so a trust policy naming that role is honoured, and only that role', async () => {
  const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: PIPELINE_ROLE }, Action: 'sts:AssumeRole' }] };
  const created = await awsQueryCall(source.json(SOURCE_REGION), 'iam', 'CreateRole', { RoleName: 'trusts-one-role', AssumeRolePolicyDocument: JSON.stringify(trust) });
  const roleArn = created.text('Arn')!;
  await expect(assume('CopySnapshot', roleArn)).resolves.toMatchObject({ accessKeyId: expect.any(String) });
  await expect(assume('SnapshotCheck', roleArn)).rejects.toMatchObject({ name: 'AccessDenied' });
  // Refused, STS names the caller's role session (what the pipeline's SourceRoleNotAssumable reads the role from).
  await expect(assume('Other', roleArn)).rejects.toMatchObject({
    name: 'AccessDenied', message: expect.stringContaining(`User: ${OTHER_SESSION} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`),
  });
});
