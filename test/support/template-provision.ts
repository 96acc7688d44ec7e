/*
 * Creates in moto, through the AWS APIs, the resources of a template that the handlers touch: KMS keys
 * (and aliases), Secrets Manager secrets (generated values made like CloudFormation makes them), DynamoDB
 * tables (key schema, TTL) and SNS topics, each topic with an SQS queue subscribed (raw delivery) so a test
 * can read what was published. Real ids are fed back into the resolver, so rendered values name them.
 *
 * Networking stands in for what the template references: one VPC with a subnet in each of two Availability Zones,
 * the template's security groups (in that VPC, whatever VPC the template names) and DB subnet groups (over those
 * subnets, under the template's names), so the preflight finds them. Other references keep the resolver's fake ids.
 */
import { randomInt } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient, UpdateTimeToLiveCommand, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { CreateSecurityGroupCommand, CreateSubnetCommand, CreateVpcCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateDBSubnetGroupCommand, RDSClient } from '@aws-sdk/client-rds';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { awsJsonCall, type JsonCallTarget } from './moto-json-api';
import { TemplateResolver, type CfnTemplate, type TemplateResolverOptions } from './template';

/** Options of {@link provisionTemplate}. */
export interface ProvisionOptions extends TemplateResolverOptions {
  /** moto's endpoint. */
  readonly endpoint: string;
}

/** A provisioned topic with the queue that receives its messages. */
export interface ProvisionedTopic {
  readonly topicArn: string;
  readonly queueUrl: string;
}

/** What {@link provisionTemplate} created, by logical id, and the resolver that names it. */
export interface ProvisionedStack {
  readonly resolver: TemplateResolver;
  readonly keys: Record<string, { keyId: string; arn: string }>;
  readonly secrets: Record<string, { arn: string; name: string }>;
  readonly tables: Record<string, { name: string; arn: string }>;
  readonly topics: Record<string, ProvisionedTopic>;
  /** Reads (and deletes) the messages delivered so far to the queue of a topic (the only one when omitted). */
  receiveMessages(topicLogicalId?: string): Promise<string[]>;
}

/** Test credentials for SDK clients pointed at moto. */
export const MOTO_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

/** The `GenerateSecretString` settings CloudFormation honours. */
export interface GenerateSecretString {
  readonly SecretStringTemplate?: string;
  readonly GenerateStringKey?: string;
  readonly PasswordLength?: number;
  readonly ExcludeCharacters?: string;
  readonly ExcludeLowercase?: boolean;
  readonly ExcludeUppercase?: boolean;
  readonly ExcludeNumbers?: boolean;
  readonly ExcludePunctuation?: boolean;
  readonly IncludeSpace?: boolean;
  readonly RequireEachIncludedType?: boolean;
}

/** Generates a secret value the way Secrets Manager's GetRandomPassword does for CloudFormation. */
export function generateSecretString(spec: GenerateSecretString): string {
  const exclude = new Set(spec.ExcludeCharacters ?? '');
  const keep = (chars: string) => [...chars].filter((c) => !exclude.has(c)).join('');
  const classes = [
    spec.ExcludeLowercase ? '' : keep('abcdefghijklmnopqrstuvwxyz'),
    spec.ExcludeUppercase ? '' : keep('ABCDEFGHIJKLMNOPQRSTUVWXYZ'),
    spec.ExcludeNumbers ? '' : keep('0123456789'),
    spec.ExcludePunctuation ? '' : keep(PUNCTUATION),
    spec.IncludeSpace ? keep(' ') : '',
  ].filter((c) => c.length > 0);
  const length = spec.PasswordLength ?? 32;
  if (classes.length === 0) throw new Error('GenerateSecretString excludes every character');
  const all = classes.join('');
  const chars: string[] = [];
  if (spec.RequireEachIncludedType ?? true) classes.forEach((c) => chars.push(c[randomInt(c.length)]));
  while (chars.length < length) chars.push(all[randomInt(all.length)]);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  const password = chars.slice(0, length).join('');
  if (spec.SecretStringTemplate === undefined) return password;
  const value = JSON.parse(spec.SecretStringTemplate);
  if (spec.GenerateStringKey) value[spec.GenerateStringKey] = password;
  return JSON.stringify(value);
}

/** The stand-in VPC, subnets, security groups and DB subnet groups (see the file comment). */
async function provisionNetwork(
  template: CfnTemplate, resolver: TemplateResolver, client: { endpoint: string; region: string; credentials: typeof MOTO_CREDENTIALS },
): Promise<void> {
  const groups = byType(template, 'AWS::EC2::SecurityGroup');
  const subnetGroups = byType(template, 'AWS::RDS::DBSubnetGroup');
  if (groups.length === 0 && subnetGroups.length === 0) return;
  const ec2 = new EC2Client(client);
  const { Vpc } = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }));
  const vpcId = Vpc!.VpcId!;
  const subnetIds: string[] = [];
  for (const [i, zone] of ['a', 'b'].entries()) {
    const { Subnet } = await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `10.0.${i}.0/24`, AvailabilityZone: `${client.region}${zone}` }));
    subnetIds.push(Subnet!.SubnetId!);
  }
  for (const [id, r] of groups) {
    const props = resolver.resolve(r.Properties ?? {});
    const { GroupId } = await ec2.send(new CreateSecurityGroupCommand({
      GroupName: `${id}-${randomInt(1e9)}`, Description: String(props.GroupDescription ?? id).slice(0, 255), VpcId: vpcId,
    }));
    resolver.setPhysical(id, { ref: GroupId!, attributes: { ...resolver.physical(id).attributes, GroupId: GroupId!, VpcId: vpcId } });
  }
  const rds = new RDSClient(client);
  for (const [id] of subnetGroups) {
    await rds.send(new CreateDBSubnetGroupCommand({
      DBSubnetGroupName: resolver.physical(id).ref, DBSubnetGroupDescription: id, SubnetIds: subnetIds,
    }));
  }
}

function byType(template: CfnTemplate, ...types: string[]) {
  return Object.entries(template.Resources).filter(([, r]) => types.includes(r.Type));
}

/** Creates the template's keys, secrets, tables and topics in moto and returns them with the resolver. */
export async function provisionTemplate(template: CfnTemplate, options: ProvisionOptions): Promise<ProvisionedStack> {
  const resolver = new TemplateResolver(template, options);
  const region = options.region;
  const client = { endpoint: options.endpoint, region, credentials: MOTO_CREDENTIALS };
  const json: JsonCallTarget = { endpoint: options.endpoint, region };

  const keys: ProvisionedStack['keys'] = {};
  for (const [id, r] of byType(template, 'AWS::KMS::Key')) {
    const props = resolver.resolve(r.Properties ?? {});
    const { KeyMetadata } = await awsJsonCall(json, 'kms', 'CreateKey', {
      Description: props.Description ?? id,
      KeyUsage: props.KeyUsage ?? 'ENCRYPT_DECRYPT',
      KeySpec: props.KeySpec ?? 'SYMMETRIC_DEFAULT',
    });
    keys[id] = { keyId: KeyMetadata.KeyId, arn: KeyMetadata.Arn };
    resolver.setPhysical(id, { ref: KeyMetadata.KeyId, attributes: { Arn: KeyMetadata.Arn, KeyId: KeyMetadata.KeyId } });
    if (props.EnableKeyRotation) await awsJsonCall(json, 'kms', 'EnableKeyRotation', { KeyId: KeyMetadata.KeyId });
  }
  for (const [id, r] of byType(template, 'AWS::KMS::Alias')) {
    const props = resolver.resolve(r.Properties ?? {});
    await awsJsonCall(json, 'kms', 'CreateAlias', { AliasName: props.AliasName, TargetKeyId: props.TargetKeyId });
    resolver.setPhysical(id, { ref: props.AliasName, attributes: {} });
  }

  await provisionNetwork(template, resolver, client);

  const secrets: ProvisionedStack['secrets'] = {};
  const sm = new SecretsManagerClient(client);
  for (const [id, r] of byType(template, 'AWS::SecretsManager::Secret')) {
    const props = resolver.resolve(r.Properties ?? {});
    const name = props.Name ?? resolver.physical(id).ref.split(':secret:')[1].replace(/-[0-9a-f]{6}$/, '');
    const value = props.SecretString ?? generateSecretString(props.GenerateSecretString ?? {});
    const out = await sm.send(new CreateSecretCommand({
      Name: name,
      Description: props.Description,
      KmsKeyId: props.KmsKeyId,
      SecretString: value,
      Tags: props.Tags,
    }));
    secrets[id] = { arn: out.ARN!, name: out.Name! };
    resolver.setPhysical(id, { ref: out.ARN!, attributes: { Id: out.ARN! } });
  }

  const tables: ProvisionedStack['tables'] = {};
  const ddb = new DynamoDBClient(client);
  for (const [id, r] of byType(template, 'AWS::DynamoDB::Table', 'AWS::DynamoDB::GlobalTable')) {
    const props = resolver.resolve(r.Properties ?? {});
    const name = resolver.physical(id).ref;
    const input: CreateTableCommandInput = {
      TableName: name,
      KeySchema: props.KeySchema,
      AttributeDefinitions: props.AttributeDefinitions,
      BillingMode: props.BillingMode ?? (props.ProvisionedThroughput ? 'PROVISIONED' : 'PAY_PER_REQUEST'),
      ProvisionedThroughput: props.ProvisionedThroughput,
      GlobalSecondaryIndexes: props.GlobalSecondaryIndexes?.map((g: any) => ({
        IndexName: g.IndexName, KeySchema: g.KeySchema, Projection: g.Projection, ProvisionedThroughput: g.ProvisionedThroughput,
      })),
      LocalSecondaryIndexes: props.LocalSecondaryIndexes,
    };
    if (input.BillingMode === 'PROVISIONED' && !input.ProvisionedThroughput) {
      input.ProvisionedThroughput = { ReadCapacityUnits: 5, WriteCapacityUnits: 5 };
    }
    const out = await ddb.send(new CreateTableCommand(input));
    const arn = out.TableDescription!.TableArn!;
    tables[id] = { name, arn };
    resolver.setPhysical(id, { ref: name, attributes: { ...resolver.physical(id).attributes, Arn: arn } });
    const ttl = props.TimeToLiveSpecification;
    if (ttl?.Enabled) {
      await ddb.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: true } }));
    }
  }

  const topics: ProvisionedStack['topics'] = {};
  const sns = new SNSClient(client);
  for (const [id, r] of byType(template, 'AWS::SNS::Topic')) {
    const props = resolver.resolve(r.Properties ?? {});
    const name = String(resolver.physical(id).attributes.TopicName);
    const attributes: Record<string, string> = {};
    if (props.KmsMasterKeyId) attributes.KmsMasterKeyId = props.KmsMasterKeyId;
    if (props.DisplayName) attributes.DisplayName = props.DisplayName;
    if (props.FifoTopic) attributes.FifoTopic = 'true';
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name, Attributes: attributes }));
    resolver.setPhysical(id, { ref: TopicArn!, attributes: { TopicArn: TopicArn!, TopicName: name } });
    const { QueueUrl } = await awsJsonCall(json, 'sqs', 'CreateQueue', { QueueName: `${name.slice(0, 60)}-e2e-inbox` });
    const { Attributes } = await awsJsonCall(json, 'sqs', 'GetQueueAttributes', { QueueUrl, AttributeNames: ['QueueArn'] });
    await sns.send(new SubscribeCommand({
      TopicArn, Protocol: 'sqs', Endpoint: Attributes.QueueArn, Attributes: { RawMessageDelivery: 'true' },
    }));
    topics[id] = { topicArn: TopicArn!, queueUrl: QueueUrl };
  }

  return {
    resolver,
    keys,
    secrets,
    tables,
    topics,
    async receiveMessages(topicLogicalId?: string): Promise<string[]> {
      const ids = Object.keys(topics);
      const id = topicLogicalId ?? (ids.length === 1 ? ids[0] : undefined);
      if (!id || !topics[id]) throw new Error(`Name the topic: the template has ${ids.join(', ') || 'none'}`);
      const bodies: string[] = [];
      for (;;) {
        const { Messages } = await awsJsonCall(json, 'sqs', 'ReceiveMessage', {
          QueueUrl: topics[id].queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0,
        });
        if (!Messages?.length) return bodies;
        for (const m of Messages) {
          bodies.push(m.Body);
          await awsJsonCall(json, 'sqs', 'DeleteMessage', { QueueUrl: topics[id].queueUrl, ReceiptHandle: m.ReceiptHandle });
        }
      }
    },
  };
}
