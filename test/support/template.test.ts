/*
 * The template → runnable pieces of the e2e harness, proven on a small hand-built stack before the real
 * construct uses them: the intrinsic resolver, the rendered state machine and environments, the asset
 * folders, and the resources created in moto.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DescribeTimeToLiveCommand, DynamoDBClient, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { lambdaTasks, renderStateMachine, retryingStates, waitStates } from './asl';
import { startMoto, type MotoServer } from './moto';
import { awsJsonCall } from './moto-json-api';
import { functionAssetSources, templateFunctions, TemplateResolver, type CfnTemplate } from './template';
import { generateSecretString, MOTO_CREDENTIALS, provisionTemplate } from './template-provision';

jest.setTimeout(600_000);

const REGION = 'eu-west-1';

describe('TemplateResolver', () => {
  const template: CfnTemplate = {
    Parameters: { Stage: { Type: 'String', Default: 'dev' }, NoDefault: { Type: 'String' } },
    Conditions: { IsProd: { 'Fn::Equals': [{ Ref: 'Stage' }, 'prod'] }, NotProd: { 'Fn::Not': [{ Condition: 'IsProd' }] } },
    Mappings: { Sizes: { dev: { Memory: 128 } } },
    Resources: {
      Table: { Type: 'AWS::DynamoDB::Table', Properties: { TableName: 'fixed-table' } },
      Topic: { Type: 'AWS::SNS::Topic' },
      Key: { Type: 'AWS::KMS::Key' },
      Fn: { Type: 'AWS::Lambda::Function' },
      Custom: { Type: 'Custom::Thing' },
    },
  };
  const r = new TemplateResolver(template, { region: REGION, stackName: 'S' });

  test('Ref: pseudo parameters, parameters (default or given), resources', () => {
    expect(r.resolve({ Ref: 'AWS::Region' })).toBe(REGION);
    expect(r.resolve({ Ref: 'AWS::AccountId' })).toBe('123456789012');
    expect(r.resolve({ Ref: 'AWS::Partition' })).toBe('aws');
    expect(r.resolve({ Ref: 'Stage' })).toBe('dev');
    expect(new TemplateResolver(template, { region: REGION, parameters: { NoDefault: 'x' } }).resolve({ Ref: 'NoDefault' })).toBe('x');
    expect(() => r.resolve({ Ref: 'NoDefault' })).toThrow(/parameter without a default/);
    expect(r.resolve({ Ref: 'Table' })).toBe('fixed-table');
    expect(r.resolve({ Ref: 'Topic' })).toMatch(/^arn:aws:sns:eu-west-1:123456789012:S-Topic-[0-9A-F]{12}$/);
    expect(() => r.resolve({ Ref: 'Nope' })).toThrow(/no such resource/);
  });

  test('names and ARNs are consistent between Ref and GetAtt and across resolvers', () => {
    const arn = r.resolve({ 'Fn::GetAtt': ['Fn', 'Arn'] });
    expect(arn).toBe(`arn:aws:lambda:${REGION}:123456789012:function:${r.resolve({ Ref: 'Fn' })}`);
    expect(r.resolve({ 'Fn::GetAtt': 'Table.Arn' })).toBe(`arn:aws:dynamodb:${REGION}:123456789012:table/fixed-table`);
    expect(new TemplateResolver(template, { region: REGION, stackName: 'S' }).resolve({ Ref: 'Key' })).toBe(r.resolve({ Ref: 'Key' }));
    expect(r.resolve({ 'Fn::GetAtt': ['Key', 'Arn'] })).toBe(`arn:aws:kms:${REGION}:123456789012:key/${r.resolve({ Ref: 'Key' })}`);
    expect(r.logicalIdOf(arn, 'AWS::Lambda::Function')).toBe('Fn');
    expect(() => r.resolve({ 'Fn::GetAtt': ['Custom', 'Whatever'] })).toThrow(/knows no attribute Whatever of Custom::Thing/);
  });

  test('Join, Sub, Select, Split, If, FindInMap, GetAZs, NoValue', () => {
    expect(r.resolve({ 'Fn::Join': ['-', ['a', { Ref: 'Stage' }, 'b']] })).toBe('a-dev-b');
    expect(r.resolve({ 'Fn::Sub': 'arn:${AWS::Partition}:x:${AWS::Region}:${Table}/${Table.Arn}/${!Literal}' }))
      .toBe(`arn:aws:x:${REGION}:fixed-table/arn:aws:dynamodb:${REGION}:123456789012:table/fixed-table/\${Literal}`);
    expect(r.resolve({ 'Fn::Sub': ['${A}-${Stage}', { A: { Ref: 'Table' } }] })).toBe('fixed-table-dev');
    expect(r.resolve({ 'Fn::Select': [1, { 'Fn::Split': [':', 'a:b:c'] }] })).toBe('b');
    expect(() => r.resolve({ 'Fn::Select': [5, ['a']] })).toThrow(/index 5/);
    expect(r.resolve({ 'Fn::If': ['IsProd', 'big', 'small'] })).toBe('small');
    expect(r.resolve({ 'Fn::If': ['NotProd', 'yes', 'no'] })).toBe('yes');
    expect(r.resolve({ 'Fn::FindInMap': ['Sizes', { Ref: 'Stage' }, 'Memory'] })).toBe(128);
    expect(r.resolve({ 'Fn::Select': [0, { 'Fn::GetAZs': '' }] })).toBe(`${REGION}a`);
    expect(r.resolve({ a: 1, b: { Ref: 'AWS::NoValue' }, c: ['x', { Ref: 'AWS::NoValue' }] })).toEqual({ a: 1, c: ['x'] });
    expect(() => r.resolve({ 'Fn::ImportValue': 'x' })).toThrow(/Unsupported intrinsic Fn::ImportValue/);
  });

  test('setPhysical replaces the generated ids', () => {
    const own = new TemplateResolver(template, { region: REGION });
    own.setPhysical('Key', { ref: 'real-id', attributes: { Arn: 'arn:aws:kms:eu-west-1:123456789012:key/real-id' } });
    expect(own.resolve({ 'Fn::Join': ['', [{ Ref: 'Key' }, '|', { 'Fn::GetAtt': ['Key', 'Arn'] }]] })).toBe('real-id|arn:aws:kms:eu-west-1:123456789012:key/real-id');
    expect(() => own.setPhysical('Nope', { ref: 'x', attributes: {} })).toThrow(/no resource Nope/);
  });
});

describe('generateSecretString', () => {
  test('follows GenerateSecretString: template, key, length, exclusions, each included type', () => {
    const v = JSON.parse(generateSecretString({ SecretStringTemplate: '{"username":"app"}', GenerateStringKey: 'password', PasswordLength: 40, ExcludeCharacters: '"@/\\' }));
    expect(v.username).toBe('app');
    expect(v.password).toHaveLength(40);
    expect(v.password).not.toMatch(/["@/\\]/);
    for (let i = 0; i < 20; i++) {
      const p = generateSecretString({ ExcludePunctuation: true, PasswordLength: 8 });
      expect(p).toMatch(/^[A-Za-z0-9]{8}$/);
      expect(p).toMatch(/[a-z]/);
      expect(p).toMatch(/[A-Z]/);
      expect(p).toMatch(/[0-9]/);
    }
    expect(generateSecretString({})).toHaveLength(32);
    expect(() => generateSecretString({ ExcludeLowercase: true, ExcludeUppercase: true, ExcludeNumbers: true, ExcludePunctuation: true })).toThrow(/every character/);
  });
});

describe('a hand-built stack', () => {
  let assetDir: string;
  let stack: Stack;
  let template: CfnTemplate;

  beforeAll(() => {
    assetDir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-asset-'));
    fs.writeFileSync(path.join(assetDir, 'index.js'), 'exports.handler = async (event) => ({ echoed: event });\n');
    const app = new App();
    stack = new Stack(app, 'Mini', { env: { region: REGION, account: '123456789012' } });
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const state = new dynamodb.Table(stack, 'State', {
      partitionKey: { name: 'operation_id', type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: 'expires_at',
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    });
    const audit = new dynamodb.TableV2(stack, 'Audit', {
      partitionKey: { name: 'operation_id', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'time_step', type: dynamodb.AttributeType.STRING },
    });
    const topic = new sns.Topic(stack, 'Topic', { masterKey: key });
    const secret = new secretsmanager.Secret(stack, 'Master', {
      encryptionKey: key,
      generateSecretString: { secretStringTemplate: JSON.stringify({ username: 'postgres' }), generateStringKey: 'password', excludeCharacters: '"@/\\', passwordLength: 30 },
    });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'db', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    const sg = new ec2.SecurityGroup(stack, 'Sg', { vpc });
    const subnetGroup = new rds.SubnetGroup(stack, 'Subnets', { vpc, description: 'db', vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } });
    const fn = new lambda.Function(stack, 'Fn', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(assetDir),
      timeout: Duration.seconds(30),
      environment: {
        PIPELINE_CONFIG: stack.toJsonString({
          stateTableName: state.tableName,
          auditTableName: audit.tableName,
          topicArn: topic.topicArn,
          keyArn: key.keyArn,
          secretArn: secret.secretArn,
          subnetGroupName: subnetGroup.subnetGroupName,
          securityGroupIds: [sg.securityGroupId],
          subnets: vpc.isolatedSubnets.map((s) => s.subnetId),
          region: stack.region,
        }),
      },
    });
    const invoke = new tasks.LambdaInvoke(stack, 'Invoke', { lambdaFunction: fn, payloadResponseOnly: false, resultSelector: { 'r.$': '$.Payload' }, resultPath: '$.r' });
    const wait = new sfn.Wait(stack, 'WaitABit', { time: sfn.WaitTime.secondsPath('$.wait') });
    new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(invoke.next(wait)) });
    template = Template.fromStack(stack).toJSON() as CfnTemplate;
  });
  afterAll(() => {
    fs.rmSync(assetDir, { recursive: true, force: true });
  });

  test('renders the state machine to plain ASL naming the function ARN', () => {
    const resolver = new TemplateResolver(template, { region: REGION });
    const sm = renderStateMachine(resolver);
    const fnId = Object.keys(template.Resources).find((id) => template.Resources[id].Type === 'AWS::Lambda::Function')!;
    const fnArn = resolver.resolve({ 'Fn::GetAtt': [fnId, 'Arn'] });
    expect(sm.definition.StartAt).toBe('Invoke');
    expect(sm.definition.States.Invoke).toMatchObject({ Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { 'FunctionName': fnArn, 'Payload.$': '$' } });
    expect(lambdaTasks(sm.definition)).toEqual([{ stateName: 'Invoke', style: 'integration', functionRef: fnArn }]);
    expect(waitStates(sm.definition)).toEqual(['WaitABit']);
    expect(retryingStates(sm.definition)).toEqual(['Invoke']);
    expect(sm.arn).toMatch(new RegExp(`^arn:aws:states:${REGION}:123456789012:stateMachine:`));
  });

  test('resolves each function\'s environment to plain strings', () => {
    const resolver = new TemplateResolver(template, { region: REGION });
    const [fn] = templateFunctions(resolver);
    expect(fn).toMatchObject({ handler: 'index.handler', runtime: 'nodejs22.x', timeoutSeconds: 30 });
    expect(fn.s3Key).toMatch(/^[0-9a-f]{64}\.zip$/);
    const config = JSON.parse(fn.environment.PIPELINE_CONFIG);
    expect(config).toMatchObject({
      region: REGION,
      topicArn: expect.stringMatching(/^arn:aws:sns:eu-west-1:123456789012:/),
      keyArn: expect.stringMatching(/^arn:aws:kms:eu-west-1:123456789012:key\/[0-9a-f-]{36}$/),
      secretArn: expect.stringMatching(/^arn:aws:secretsmanager:eu-west-1:123456789012:secret:.+-[0-9a-f]{6}$/),
      securityGroupIds: [expect.stringMatching(/^sg-[0-9a-f]{17}$/)],
      subnets: [expect.stringMatching(/^subnet-/), expect.stringMatching(/^subnet-/)],
    });
    expect(config.subnetGroupName).toMatch(/^[a-z0-9-]+$/);
    expect(config.stateTableName).not.toBe(config.auditTableName);
  });

  test('maps each function to the folder of its code asset', () => {
    const resolver = new TemplateResolver(template, { region: REGION });
    const [fn] = templateFunctions(resolver);
    expect(functionAssetSources(stack, template)).toEqual({ [fn.logicalId]: path.resolve(assetDir) });
    const tampered = JSON.parse(JSON.stringify(template));
    tampered.Resources[fn.logicalId].Properties.Code.S3Key = 'other.zip';
    expect(() => functionAssetSources(stack, tampered)).toThrow(/does not match the template's S3Key/);
  });

  describe('provisioned in moto', () => {
    let moto: MotoServer;
    beforeAll(async () => {
      moto = await startMoto();
    });
    afterAll(async () => {
      await moto?.stop();
    });

    test('creates keys, secrets, tables and topics for real and the resolver names them', async () => {
      const stackInMoto = await provisionTemplate(template, { endpoint: moto.endpoint, region: REGION });
      const client = { endpoint: moto.endpoint, region: REGION, credentials: MOTO_CREDENTIALS };
      const [fn] = templateFunctions(stackInMoto.resolver);
      const config = JSON.parse(fn.environment.PIPELINE_CONFIG);

      const [keyId] = Object.keys(stackInMoto.keys);
      expect(config.keyArn).toBe(stackInMoto.keys[keyId].arn);
      const described = await awsJsonCall({ endpoint: moto.endpoint, region: REGION }, 'kms', 'DescribeKey', { KeyId: config.keyArn });
      expect(described.KeyMetadata.Enabled).toBe(true);

      const sm = new SecretsManagerClient(client);
      const secret = await sm.send(new GetSecretValueCommand({ SecretId: config.secretArn }));
      const value = JSON.parse(secret.SecretString!);
      expect(value.username).toBe('postgres');
      expect(value.password).toHaveLength(30);
      expect(value.password).not.toMatch(/["@/\\]/);

      const ddb = new DynamoDBClient(client);
      const stateTable = await ddb.send(new DescribeTableCommand({ TableName: config.stateTableName }));
      expect(stateTable.Table!.KeySchema).toEqual([{ AttributeName: 'operation_id', KeyType: 'HASH' }]);
      const auditTable = await ddb.send(new DescribeTableCommand({ TableName: config.auditTableName }));
      expect(auditTable.Table!.KeySchema).toEqual([{ AttributeName: 'operation_id', KeyType: 'HASH' }, { AttributeName: 'time_step', KeyType: 'RANGE' }]);
      const ttl = await ddb.send(new DescribeTimeToLiveCommand({ TableName: config.stateTableName }));
      expect(ttl.TimeToLiveDescription).toEqual({ AttributeName: 'expires_at', TimeToLiveStatus: 'ENABLED' });

      // Conditional writes (the lock) behave; TTL is stored, nothing expires.
      const doc = DynamoDBDocumentClient.from(ddb);
      const lock = { operation_id: 'LOCK#tgt', holder_operation_id: 'op1', expires_at: 1 };
      await doc.send(new PutCommand({ TableName: config.stateTableName, Item: lock, ConditionExpression: 'attribute_not_exists(operation_id)' }));
      await expect(doc.send(new PutCommand({ TableName: config.stateTableName, Item: { ...lock, holder_operation_id: 'op2' }, ConditionExpression: 'attribute_not_exists(operation_id)' })))
        .rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });

      // What is published to the topic arrives raw in the test's queue.
      expect(config.topicArn).toBe(Object.values(stackInMoto.topics)[0].topicArn);
      await new SNSClient(client).send(new PublishCommand({ TopicArn: config.topicArn, Subject: 'subject', Message: '{"status":"SUCCEEDED"}' }));
      expect(await stackInMoto.receiveMessages()).toEqual(['{"status":"SUCCEEDED"}']);
      expect(await stackInMoto.receiveMessages()).toEqual([]);
    });
  });
});
