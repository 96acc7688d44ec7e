/*
 * The source (production) account of a restore across accounts, as moto holds it: the AuroraRestoreSource stack's
 * role (trust policy and inline policies) and share key (with its key policy) created in that account through
 * IAM and KMS, as CloudFormation would, and the readers a scenario needs there (as the account's administrator,
 * never as the pipeline).
 */
import { RDSClient } from '@aws-sdk/client-rds';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ACCOUNT, TARGET_REGION } from './stacks';
import { AuroraRestoreSource, type AuroraRestoreSourceProps } from '../../../src';
import { keyPolicies, policiesOfRole, type PolicyDocument } from '../../support/iam-policies';
import type { AccountCredentials, MotoServer } from '../../support/moto';
import { awsJsonCall, awsQueryCall, type JsonCallTarget } from '../../support/moto-json-api';
import { TemplateResolver, type CfnTemplate } from '../../support/template';

/** The source account of the cross-account scenarios (account A; the pipeline's, moto's default, is B). */
export const SOURCE_ACCOUNT = '111111111111';

/** What {@link provisionSourceAccount} deploys. */
export interface SourceAccountOptions {
  /** The source account. Default {@link SOURCE_ACCOUNT}. */
  readonly account?: string;
  /** The region the companion is deployed in: the pipeline's. Default {@link TARGET_REGION}. */
  readonly region?: string;
  /** The companion's props. Default: source `prod-aurora` in `us-east-1`, pipeline account {@link ACCOUNT}, manual snapshots `prod-aurora-*`. */
  readonly props?: Partial<AuroraRestoreSourceProps>;
}

/** A role of the source account and its identity policies. */
export interface SourceRole {
  readonly roleArn: string;
  readonly policies: Array<{ name: string; policy: PolicyDocument }>;
}

/** The source account with the companion stack in it. */
export interface SourceAccount {
  readonly account: string;
  /** Where the companion (role, share key) lives: the pipeline's region. */
  readonly region: string;
  /** Where the source cluster lives. */
  readonly sourceRegion: string;
  /** Its administrator's credentials (for setup and for the IAM recorder's reads there; never for the pipeline). */
  readonly credentials: AccountCredentials;
  /** The companion's role: the pipeline's `sourceRoleArn`. */
  readonly roleArn: string;
  /** The companion's share key: the pipeline's `sourceShareKeyArn`. */
  readonly shareKeyArn: string;
  /** The companion's roles with their policies, for deciding what the pipeline does as them. */
  readonly roles: SourceRole[];
  /** The companion's key policies, by key ARN. */
  readonly keyPolicies: Map<string, PolicyDocument>;
  readonly template: CfnTemplate;
  /** RDS of a region of the source account, as its administrator. */
  rds(region: string): RDSClient;
  /** A JSON-API target (KMS) in a region of the source account, as its administrator. */
  json(region: string): JsonCallTarget;
}

/** Synthesizes the AuroraRestoreSource stack and creates its role and share key in the source account in moto. */
export async function provisionSourceAccount(moto: MotoServer, options: SourceAccountOptions = {}): Promise<SourceAccount> {
  const account = options.account ?? SOURCE_ACCOUNT;
  const region = options.region ?? TARGET_REGION;
  const props: AuroraRestoreSourceProps = {
    sourceClusterIdentifier: 'prod-aurora',
    pipelineAccount: ACCOUNT,
    sourceRegion: 'us-east-1',
    manualSnapshotPrefix: 'prod-aurora-',
    ...options.props,
  };
  const stack = new Stack(new App(), 'Source', { env: { account, region } });
  new AuroraRestoreSource(stack, 'Source', props);
  const template = Template.fromStack(stack).toJSON() as CfnTemplate;
  const resolver = new TemplateResolver(template, { region, account, stackName: 'Source' });
  const credentials = await moto.accountCredentials(account);
  const json = (r: string): JsonCallTarget => ({ endpoint: moto.endpoint, region: r, accessKeyId: credentials.accessKeyId });
  const byType = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type).map(([id]) => id);

  // The key first: the role's policies name it.
  const [keyId, ...moreKeys] = byType('AWS::KMS::Key');
  if (!keyId || moreKeys.length > 0) throw new Error(`expected one key in the AuroraRestoreSource stack, found ${byType('AWS::KMS::Key').join(', ')}`);
  const keyProps = resolver.resolve(template.Resources[keyId].Properties ?? {});
  const { KeyMetadata } = await awsJsonCall(json(region), 'kms', 'CreateKey', {
    Description: keyProps.Description, KeyUsage: 'ENCRYPT_DECRYPT', KeySpec: 'SYMMETRIC_DEFAULT', Policy: JSON.stringify(keyProps.KeyPolicy),
  });
  resolver.setPhysical(keyId, { ref: KeyMetadata.KeyId, attributes: { Arn: KeyMetadata.Arn, KeyId: KeyMetadata.KeyId } });
  // Its alias `alias/arp-source-<cluster>-<hash>`: the pipeline's default `sourceShareKeyArn` names the key by it.
  for (const aliasId of byType('AWS::KMS::Alias')) {
    const { AliasName } = resolver.resolve(template.Resources[aliasId].Properties ?? {});
    await awsJsonCall(json(region), 'kms', 'CreateAlias', { AliasName, TargetKeyId: KeyMetadata.KeyId });
  }

  const roles: SourceRole[] = [];
  for (const roleId of byType('AWS::IAM::Role')) {
    const roleArn = resolver.resolveString({ 'Fn::GetAtt': [roleId, 'Arn'] });
    const trust = resolver.resolve(template.Resources[roleId].Properties?.AssumeRolePolicyDocument);
    const iam = json('us-east-1');
    await awsQueryCall(iam, 'iam', 'CreateRole', { RoleName: roleArn.split('/').pop()!, AssumeRolePolicyDocument: JSON.stringify(trust) });
    const policies = policiesOfRole(template, resolver, roleId);
    for (const { name, policy } of policies) {
      await awsQueryCall(iam, 'iam', 'PutRolePolicy', { RoleName: roleArn.split('/').pop()!, PolicyName: name.replace(/[^\w+=,.@-]/g, '-'), PolicyDocument: JSON.stringify(policy) });
    }
    roles.push({ roleArn, policies });
  }
  if (roles.length !== 1) throw new Error(`expected one role in the AuroraRestoreSource stack, found ${roles.length}`);

  const clients = new Map<string, RDSClient>();
  return {
    account,
    region,
    sourceRegion: props.sourceRegion ?? region,
    credentials,
    roleArn: roles[0].roleArn,
    shareKeyArn: KeyMetadata.Arn,
    roles,
    keyPolicies: keyPolicies(template, resolver),
    template,
    rds(r: string) {
      let c = clients.get(r);
      if (!c) clients.set(r, c = new RDSClient({ region: r, endpoint: moto.endpoint, credentials, maxAttempts: 1 }));
      return c;
    },
    json,
  };
}
