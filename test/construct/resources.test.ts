import * as path from 'path';
import { AssetStaging } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { definitionOf, renderIntrinsics } from './definition';
import { defaultStack, fullStack } from './stacks';
import { HANDLER_SPECS, SDK_LAYER_ASSET } from '../../src/handlers';

describe('default stack', () => {
  const { stack, pipeline } = defaultStack();
  const t = Template.fromStack(stack);

  test('a rotating KMS key that CloudWatch Logs and alarms may use', () => {
    t.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: 'logs.eu-west-1.amazonaws.com' } }),
          Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey'] }),
        ]),
      },
    });
  });

  test('state table: operation_id, TTL, PITR, customer-managed encryption', () => {
    t.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'operation_id', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() },
    });
  });

  test('audit table: operation_id + time_step, PITR, encrypted', () => {
    t.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'operation_id', KeyType: 'HASH' }, { AttributeName: 'time_step', KeyType: 'RANGE' }],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
    });
  });

  test('tables and key are retained by default', () => {
    for (const type of ['AWS::DynamoDB::Table', 'AWS::KMS::Key']) {
      for (const r of Object.values(t.findResources(type))) expect(r.DeletionPolicy).toBe('Retain');
    }
  });

  test('topic: encrypted, TLS only', () => {
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    t.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('one function per step (HANDLER_SPECS) from the bundled assets, newest Node runtime, X-Ray, explicit memory and timeout', () => {
    const fns = t.findResources('AWS::Lambda::Function');
    expect(Object.keys(fns)).toHaveLength(HANDLER_SPECS.length);
    for (const fn of Object.values(fns)) {
      const p = fn.Properties;
      expect(p.Runtime).toMatch(/^nodejs(2[2-9]|[3-9]\d)\.x$/);
      expect(p.Handler).toBe('index.handler');
      expect(p.TracingConfig).toEqual({ Mode: 'Active' });
      expect(p.MemorySize).toBeGreaterThanOrEqual(256);
      expect(p.Timeout).toBeGreaterThan(0);
      expect(p.ReservedConcurrentExecutions).toBeUndefined();
      expect(p.DeadLetterConfig).toBeDefined();
      expect(p.KmsKeyArn).toBeDefined();
      expect(p.Environment.Variables.PIPELINE_CONFIG).toBeDefined();
      expect(p.LoggingConfig.LogGroup).toBeDefined();
    }
    t.resourceCountIs('AWS::Lambda::EventInvokeConfig', HANDLER_SPECS.length);
  });

  test('one SDK layer per pipeline, from assets/sdk-layer, on every function, for the functions\' runtime and architecture', () => {
    const layers = t.findResources('AWS::Lambda::LayerVersion');
    expect(Object.keys(layers)).toHaveLength(1);
    const [layerId, layer] = Object.entries(layers)[0];
    expect(layerId).toMatch(/^\w*HandlersSdkLayer[0-9A-F]{8}$/);
    const fns = Object.values(t.findResources('AWS::Lambda::Function'));
    expect(layer.Properties.CompatibleRuntimes).toEqual([fns[0].Properties.Runtime]);
    expect(layer.Properties.CompatibleArchitectures).toEqual(['arm64']);
    for (const fn of fns) {
      expect(fn.Properties.Layers).toEqual([{ Ref: layerId }]);
      expect(fn.Properties.Architectures).toEqual(['arm64']);
    }
    const asset = pipeline.node.findAll().find((c) => c instanceof AssetStaging && c.node.path.includes('SdkLayer')) as AssetStaging;
    expect(path.relative(path.join(__dirname, '..', '..', 'assets'), asset.sourcePath)).toBe(SDK_LAYER_ASSET);
  });

  test('no reserved concurrency by default: each function acknowledges the concurrency rules with that reason', () => {
    const fns = pipeline.node.findAll().filter((c) => c.node.defaultChild instanceof CfnFunction);
    expect(fns).toHaveLength(HANDLER_SPECS.length);
    for (const fn of fns) {
      const acks = Object.assign({}, ...fn.node.metadata.filter((m) => m.type === 'aws:cdk:acknowledged-rules').map((m) => m.data as object));
      for (const id of ['Annotation::NIST.800.53.R5-LambdaConcurrency', 'Annotation::HIPAA.Security-LambdaConcurrency']) expect(acks[id]).toMatch(/opt-in \(handlerReservedConcurrency\).*1,000/);
    }
  });

  test('the setup-db-users function trusts the Lambda runtime CA bundle', () => {
    t.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('PostgreSQL roles'),
      Environment: { Variables: { NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem', PIPELINE_CONFIG: Match.anyValue() } },
    });
  });

  test('log groups: retention and KMS', () => {
    const groups = Object.values(t.findResources('AWS::Logs::LogGroup'));
    expect(groups).toHaveLength(HANDLER_SPECS.length + 1);
    for (const g of groups) {
      expect(g.Properties.RetentionInDays).toBe(365);
      expect(g.Properties.KmsKeyId).toBeDefined();
    }
  });

  test('the cluster security group admits only the setup-db-users function on 5432', () => {
    const ingress = Object.values(t.findResources('AWS::EC2::SecurityGroupIngress'));
    expect(ingress).toHaveLength(1);
    expect(ingress[0].Properties).toMatchObject({ FromPort: 5432, ToPort: 5432, IpProtocol: 'tcp', SourceSecurityGroupId: { 'Fn::GetAtt': [expect.stringMatching(/DbUsersSecurityGroup/), 'GroupId'] } });
    t.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('setup-db-users'),
      SecurityGroupEgress: [Match.objectLike({ FromPort: 443, ToPort: 443, CidrIp: '0.0.0.0/0' })],
    });
  });

  test('a standard state machine: logging ALL, X-Ray, timeout, CMK encryption', () => {
    t.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true, Destinations: Match.anyValue() },
      EncryptionConfiguration: { Type: 'CUSTOMER_MANAGED_KMS_KEY', KmsKeyId: Match.anyValue() },
    });
    const asl = JSON.stringify(t.findResources('AWS::StepFunctions::StateMachine'));
    // The default flow (a swap retiring the previous target): five 26-hour budgets and two hours.
    expect(asl).toContain('\\"TimeoutSeconds\\":475200');
  });

  test('alarms on failed, timed out, aborted, throttled executions and handler errors, all to the topic', () => {
    const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm'));
    // Handler errors: one math alarm per 10 functions, CloudWatch's limit of metrics in an alarm.
    const errorAlarms = Math.ceil(HANDLER_SPECS.length / 10);
    expect(alarms).toHaveLength(4 + errorAlarms);
    expect(pipeline.alarms).toHaveLength(4 + errorAlarms);
    const metricNames = alarms.map((a) => a.Properties.MetricName).filter(Boolean).sort();
    expect(metricNames).toEqual(['ExecutionThrottled', 'ExecutionsAborted', 'ExecutionsFailed', 'ExecutionsTimedOut']);
    const math = alarms.filter((a) => a.Properties.Metrics);
    for (const m of math) expect(m.Properties.Metrics.filter((x: any) => x.MetricStat).length).toBeLessThanOrEqual(10);
    const errors = math.flatMap((m) => m.Properties.Metrics.filter((x: any) => x.MetricStat?.Metric.MetricName === 'Errors'));
    expect(new Set(errors.map((x: any) => JSON.stringify(x.MetricStat.Metric.Dimensions))).size).toBe(HANDLER_SPECS.length);
    for (const a of alarms) {
      expect(a.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^RestoreTopic/) }]);
      expect(a.Properties.TreatMissingData).toBe('notBreaching');
    }
  });

  test('stopped and timed-out executions of this state machine go to the notification function, with retries and the dead-letter queue', () => {
    const rules = t.findResources('AWS::Events::Rule');
    expect(Object.keys(rules)).toHaveLength(1);
    const [ruleId, rule] = Object.entries(rules)[0];
    expect(rule.Properties.State).toBe('ENABLED');
    expect(rule.Properties.EventPattern).toEqual({
      'source': ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      'detail': { stateMachineArn: [{ Ref: expect.stringMatching(/^RestoreStateMachine[0-9A-F]{8}$/) }], status: ['ABORTED', 'TIMED_OUT'] },
    });
    const fnId = Object.entries(t.findResources('AWS::Lambda::Function'))
      .find(([, f]) => /Records the outcome and notifies/.test(f.Properties.Description))![0];
    const dlqId = Object.keys(t.findResources('AWS::SQS::Queue'))[0];
    expect(Object.keys(t.findResources('AWS::SQS::Queue'))).toHaveLength(1);
    // The event as it is (no input transformer): the handler validates it.
    expect(rule.Properties.Targets).toEqual([{
      Id: expect.any(String),
      Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
      DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlqId, 'Arn'] } },
      RetryPolicy: { MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 },
    }]);
    expect(pipeline.executionStoppedRule.ruleArn).toBeDefined();
    // EventBridge may invoke the function for this rule only, and send to the DLQ for this rule only.
    t.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] },
    });
    t.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: dlqId }],
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Effect: 'Allow',
          Principal: { Service: 'events.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [ruleId, 'Arn'] } } },
        })]),
      },
    });
    // The queue is encrypted with the pipeline's key: EventBridge may use it, from this account only.
    t.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({
          Principal: { Service: 'events.amazonaws.com' },
          Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
        })]),
      },
    });
    // Lambda retries a failed settlement of an asynchronous event (safe to repeat); the state machine's own
    // invocations are synchronous, so the other functions keep no retries.
    const configs = Object.values(t.findResources('AWS::Lambda::EventInvokeConfig')).map((c) => c.Properties);
    expect(configs.filter((c) => c.MaximumRetryAttempts === 2).map((c) => c.FunctionName)).toEqual([{ Ref: fnId }]);
    expect(configs.filter((c) => c.MaximumRetryAttempts === 0)).toHaveLength(HANDLER_SPECS.length - 1);
  });

  test('a generated master secret, encrypted with the key', () => {
    t.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { GenerateStringKey: 'password', PasswordLength: 32 },
      KmsKeyId: Match.anyValue(),
    });
  });

  test('grantStartExecution and metrics delegate to the state machine', () => {
    const fresh = defaultStack();
    const role = new iam.Role(fresh.stack, 'Starter', { assumedBy: new iam.AccountRootPrincipal() });
    fresh.pipeline.grantStartExecution(role);
    const t2 = Template.fromStack(fresh.stack);
    t2.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('Starter') }],
      PolicyDocument: { Statement: [Match.objectLike({ Action: 'states:StartExecution', Resource: { Ref: Match.stringLikeRegexp('RestoreStateMachine') } })] },
    });
    expect(pipeline.metricSucceeded().metricName).toBe('ExecutionsSucceeded');
    expect(pipeline.metricFailed().metricName).toBe('ExecutionsFailed');
    expect(pipeline.metricTime().metricName).toBe('ExecutionTime');
  });
});

describe('least privilege', () => {
  const t = Template.fromStack(defaultStack().stack);
  const policies = Object.entries(t.findResources('AWS::IAM::Policy'));
  const statementsOf = (fnId: string) => policies
    .filter(([id]) => id.startsWith(`RestoreHandlers${fnId}Role`))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as any[]);
  const str = (v: unknown) => JSON.stringify(v);

  test('no function may touch the source cluster beyond reading it', () => {
    for (const [, p] of policies) {
      for (const s of p.Properties.PolicyDocument.Statement as any[]) {
        const actions = [s.Action].flat() as string[];
        const mutating = actions.filter((a) => /^rds:(Delete|Modify|Restore|Create|AddTags)/.test(a));
        if (mutating.length && str(s.Resource).includes(':cluster:prod-aurora')) {
          throw new Error(`mutating ${mutating.join(',')} on the source cluster`);
        }
      }
    }
  });

  const ownedCondition = { StringEquals: { 'aws:ResourceTag/aurora-restore-pipeline:pipeline': 'Restore' } };

  test('every delete and modify requires the ownership tag, except naming the final snapshot a delete creates', () => {
    const destructive = policies.flatMap(([id, p]) => (p.Properties.PolicyDocument.Statement as any[]).map((s) => ({ id, s })))
      .filter(({ s }) => [s.Action].flat().some((a: string) => /^rds:(Delete|Modify|Reboot|Stop|Start|RemoveTags)/.test(a)));
    expect(destructive.length).toBeGreaterThan(0);
    for (const { id, s } of destructive) {
      if (str(s.Resource).includes(':cluster-snapshot:arp-final-staging-aurora-*') && !str(s.Action).includes('DeleteDBClusterSnapshot')) {
        // DeleteDBCluster names its final snapshot, which does not exist yet: the pipeline's prefix scopes it.
        expect({ id, actions: [s.Action].flat().sort() }).toEqual({ id: expect.stringMatching(/DeleteRds/), actions: ['rds:CreateDBClusterSnapshot', 'rds:DeleteDBCluster'] });
        continue;
      }
      expect({ id, condition: s.Condition }).toEqual({ id, condition: ownedCondition });
    }
  });

  test('only the delete, restore-status and cutover functions may modify clusters; only delete and the failure settlement delete them; snapshots are deleted only by prefix and tag', () => {
    for (const [id, p] of policies) {
      for (const s of p.Properties.PolicyDocument.Statement as any[]) {
        const actions = [s.Action].flat() as string[];
        if (actions.some((a) => a === 'rds:ModifyDBCluster')) expect(id).toMatch(/DeleteRds|CheckRestoreStatus|Cutover/);
        if (actions.some((a) => a === 'rds:DeleteDBCluster' || a === 'rds:DeleteDBInstance')) expect(id).toMatch(/DeleteRds|SnsNotification/);
        if (actions.some((a) => a === 'rds:DeleteDBClusterSnapshot')) {
          // Archive on success and the failure notification delete copies; DeleteRds the older final snapshots.
          expect(id).toMatch(/ArchiveSnapshot|SnsNotification|DeleteRds/);
          expect([s.Resource].flat().map(str)).toEqual([expect.stringMatching(/:cluster-snapshot:arp-(copy|final)-staging-aurora-\*/)]);
          expect(s.Condition).toEqual(ownedCondition);
        }
        expect(actions).not.toContain('rds:*');
        expect(actions).not.toContain('*');
      }
    }
  });

  test('the preflight reads only: "*" solely for the three actions without a resource type; the subnet group and keys by ARN', () => {
    // X-Ray's PutTraceSegments/PutTelemetryRecords (tracing) are on "*" for every function too.
    const onStar = statementsOf('SnapshotCheck').filter((s) => [s.Resource].flat().includes('*') && ![s.Action].flat().every((a: string) => a.startsWith('xray:')));
    const elsewhere = policies.filter(([id]) => !id.includes('SnapshotCheck')).flatMap(([, p]) => p.Properties.PolicyDocument.Statement as any[]);
    expect(elsewhere.filter((s) => /DescribeAccountAttributes|DescribeDBEngineVersions|DescribeSecurityGroups/.test(str(s.Action)))).toEqual([]);
    expect(onStar.map((s) => [s.Action].flat().sort())).toEqual([['ec2:DescribeSecurityGroups', 'rds:DescribeAccountAttributes', 'rds:DescribeDBEngineVersions']]);
    expect(onStar[0].Effect).toBe('Allow');
    const check = statementsOf('SnapshotCheck');
    const subnets = check.find((s) => str(s.Action).includes('rds:DescribeDBSubnetGroups'));
    expect([subnets.Action].flat()).toEqual(['rds:DescribeDBSubnetGroups']);
    expect(str(subnets.Resource)).toMatch(/:subgrp:/);
    expect(check.some((s) => str(s.Action).includes('kms:DescribeKey') && str(s.Resource).includes('Fn::GetAtt'))).toBe(true);
    expect(check.some((s) => str(s.Action).includes('secretsmanager:GetSecretValue'))).toBe(true);
    // In RDS, EC2, KMS and Secrets Manager, SnapshotCheck only reads (the KMS encryption actions are for its own tables and queue).
    expect(check.flatMap((s) => [s.Action].flat()).filter((a: string) => /^(rds|ec2|kms|secretsmanager):/.test(a) && !/^\w+:(Describe|List|Get|Decrypt|Encrypt|ReEncrypt|GenerateDataKey)/.test(a)))
      .toEqual([]);
  });

  test('the notification may settle only the pipeline\'s own snapshot copies and a swap\'s temporary cluster (failure path), nothing else in RDS', () => {
    const rdsStatements = statementsOf('SnsNotification').filter((s) => [s.Action].flat().some((a: string) => a.startsWith('rds:')));
    const copies = rdsStatements.filter((s) => str(s.Resource).includes(':cluster-snapshot:'));
    expect(copies.flatMap((s) => [s.Action].flat()).sort()).toEqual([
      'rds:AddTagsToResource', 'rds:DeleteDBClusterSnapshot', 'rds:DescribeDBClusterSnapshots', 'rds:ListTagsForResource',
    ]);
    for (const s of copies) expect([s.Resource].flat().map(str)).toEqual([expect.stringMatching(/:cluster-snapshot:arp-copy-staging-aurora-\*/)]);
    // The temporary cluster: deleted only under the ownership tag, and only names with the reserved temporary prefix.
    for (const s of rdsStatements.filter((x) => [x.Action].flat().some((a: string) => a.startsWith('rds:Delete') && a !== 'rds:DeleteDBClusterSnapshot'))) {
      expect(s.Condition).toEqual(ownedCondition);
      for (const r of [s.Resource].flat().map(str)) expect(r).toMatch(/:(cluster|db):arp-tmp-staging-aurora\*/);
    }
    const reads = rdsStatements.filter((s) => !str(s.Resource).includes(':cluster-snapshot:')).flatMap((s) => [s.Action].flat());
    expect([...new Set(reads)].sort()).toEqual(['rds:DeleteDBCluster', 'rds:DeleteDBInstance', 'rds:DescribeDBClusters', 'rds:DescribeDBInstances', 'rds:ListTagsForResource']);
  });

  test('KMS grants only for AWS resources (RDS), never to a principal', () => {
    const grants = policies.flatMap(([, p]) => p.Properties.PolicyDocument.Statement as any[]).filter((s) => str(s.Action).includes('kms:CreateGrant'));
    expect(grants.length).toBeGreaterThan(0);
    for (const s of grants) {
      expect([s.Action].flat()).toEqual(['kms:CreateGrant']);
      expect(s.Condition.Bool).toEqual({ 'kms:GrantIsForAWSResource': 'true' });
    }
  });

  test('same region: no copy permissions, the engine\'s default parameter groups only', () => {
    expect(statementsOf('CopySnapshot').filter((s) => str(s.Action).includes('rds:'))).toEqual([]);
    const groups = statementsOf('RestoreSnapshot').flatMap((s) => [s.Resource].flat()).map(str).filter((r) => /:(cluster-pg|pg|og):/.test(r));
    expect(groups.sort()).toEqual([
      expect.stringContaining(':cluster-pg:default.aurora-postgresql*'),
      expect.stringContaining(':og:default:aurora-postgresql*'),
      expect.stringContaining(':og:default:aurora-postgresql*'),
      expect.stringContaining(':pg:default.aurora-postgresql*'),
    ]);
  });

  test('the notification may ask only about this state machine\'s executions (a late stopped event after a redrive), in its own policy', () => {
    const [[id, policy], ...more] = policies.filter(([, p]) => str(p).includes('states:DescribeExecution'));
    expect(more).toEqual([]);
    expect(id).toMatch(/^RestoreDescribeExecutionsPolicy/);
    expect(policy.Properties.PolicyDocument.Statement).toEqual([{ Effect: 'Allow', Action: 'states:DescribeExecution', Resource: expect.anything() }]);
    const resource = str(policy.Properties.PolicyDocument.Statement[0].Resource);
    expect(resource).toContain(':execution:');
    expect(resource).toMatch(/RestoreStateMachine[0-9A-F]{8}/);
    expect(resource).toContain(':*"');
    expect(str(policy.Properties.Roles)).toMatch(/RestoreHandlersSnsNotificationRole/);
  });

  test('only the functions that need a secret can read one', () => {
    const readers = policies.filter(([, p]) => str(p).includes('secretsmanager:GetSecretValue')).map(([id]) => id);
    // SnapshotCheck: the preflight checks that each secret is readable and has its keys (never passing a value on).
    expect(readers.every((id) => /SnapshotCheck|CheckRestoreStatus|SetupDbUsers|ValidateRestore/.test(id))).toBe(true);
    expect(readers.length).toBe(4);
  });

  test('logs go only to the function\'s own log group', () => {
    for (const [, p] of Object.entries(t.findResources('AWS::IAM::ManagedPolicy'))) {
      const logsStatement = (p.Properties.PolicyDocument.Statement as any[]).find((s) => str(s.Action).includes('logs:PutLogEvents'));
      expect(str(logsStatement.Resource)).toMatch(/LogGroup/);
    }
    // No AWS managed policies on the function roles.
    for (const role of Object.values(t.findResources('AWS::IAM::Role'))) {
      expect(str(role.Properties.ManagedPolicyArns ?? [])).not.toContain('iam::aws:policy');
    }
  });
});

describe('fully configured, cross-region stack', () => {
  const { stack } = fullStack('us-east-1');
  const t = Template.fromStack(stack);

  test('handlerReservedConcurrency reserves that many for each function, and the concurrency rules are not acknowledged', () => {
    const fns = Object.values(t.findResources('AWS::Lambda::Function'));
    expect(fns).toHaveLength(HANDLER_SPECS.length);
    for (const fn of fns) expect(fn.Properties.ReservedConcurrentExecutions).toBe(3);
    const acked = stack.node.findAll().filter((c) => c.node.metadata.some((m) => m.type === 'aws:cdk:acknowledged-rules'
      && Object.keys(m.data as object).some((id) => id.endsWith('-LambdaConcurrency'))));
    expect(acked).toEqual([]);
  });

  test('uses the given security group, subnet group, key and email subscription', () => {
    t.resourceCountIs('AWS::KMS::Key', 1); // only the user's key
    t.resourceCountIs('AWS::RDS::DBSubnetGroup', 1);
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'dba@example.com' });
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { FromPort: 5433, ToPort: 5433 });
    t.resourceCountIs('AWS::Backup::BackupSelection', 1);
  });

  test('copy and restore may use the source key in us-east-1 only through the given key', () => {
    const copy = Object.entries(t.findResources('AWS::IAM::Policy')).filter(([id]) => id.includes('CopySnapshot'));
    const s = JSON.stringify(copy);
    expect(s).toContain('arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555');
    expect(s).toContain('rds:us-east-1');
    expect(s).not.toContain('kms:ViaService');
  });

  test('cross-region, the restore reads only the copy: no source-region snapshot or key', () => {
    const restore = JSON.stringify(Object.entries(t.findResources('AWS::IAM::Policy')).filter(([id]) => id.includes('RestoreSnapshot')));
    expect(restore).not.toContain('us-east-1');
    expect(restore).not.toContain('11111111-2222-3333-4444-555555555555');
    expect(restore).toContain(':cluster-snapshot:arp-copy-staging-aurora-*');
  });

  test('generated user secrets only for users without one', () => {
    // master, app, combined are the user's; 'reporting' and 'migrator' get generated secrets.
    const generated = Object.keys(t.findResources('AWS::SecretsManager::Secret')).filter((id) => id.startsWith('RestoreUserSecret'));
    expect(generated).toHaveLength(2);
  });

  test('the handler configuration carries every setting and no secret value', () => {
    const fns = Object.values(t.findResources('AWS::Lambda::Function'));
    const configs = fns.map((fn) => renderIntrinsics(fn.Properties.Environment.Variables.PIPELINE_CONFIG) as string);
    expect(new Set(configs).size).toBe(1);
    const config = JSON.parse(configs[0]);
    const dbUsers = definitionOf(t).States.SetupDbUsers.Parameters.users;
    expect(config).toMatchObject({
      sourceRegion: 'us-east-1',
      targetRegion: 'eu-west-1',
      includeAutomatedSnapshots: false,
      replaceExistingTarget: true,
      assumeTargetOwned: true,
      finalSnapshotOnDelete: true,
      allowDisableDeletionProtection: true,
      retainSnapshotCopy: true,
      tags: [{ key: 'team', value: 'data' }, { key: 'env', value: 'staging' }],
      restore: {
        instanceClass: 'db.r6g.large',
        instanceIdentifier: 'staging-aurora-writer',
        engineVersion: '16.4',
        port: 5433,
        deletionProtection: true,
        serverlessV2MinCapacity: 1,
        serverlessV2MaxCapacity: 8,
      },
      waits: { pollIntervalSeconds: 20, maxPollIntervalSeconds: 120, backoffRate: 2, budgetSeconds: 21600 },
      stateTtlSeconds: 30 * 86400,
      lockTtlSeconds: 32 * 3600,
    });
    expect(dbUsers.map((u: any) => [u.username ?? u.usernameKey, u.privilege])).toEqual([
      ['app_rw', 'READ_WRITE'], ['reporting', 'READ_ONLY'], ['migrator', 'OWNER'], ['app_username', 'READ_WRITE'], ['readonly_username', 'READ_ONLY'],
    ]);
    expect(dbUsers[0].schemas).toEqual(['public', 'billing']);
    expect(config).not.toHaveProperty('dbUsers');
    expect(JSON.stringify(config)).not.toMatch(/SecretString|GenerateSecretString/);
  });
});

describe('no unresolved token text in any template', () => {
  test.each([
    ['default', () => defaultStack().stack],
    ['cross-region', () => defaultStack({ sourceRegion: 'us-east-1' }).stack],
    ['environment-agnostic', () => defaultStack({}, undefined).stack],
    ['fully configured', () => fullStack('us-east-1').stack],
  ])('%s', (_name, build) => {
    // A token turned into plain text (e.g. by string methods) ends up as "${Token[...]}" in the template.
    expect(JSON.stringify(Template.fromStack(build()).toJSON())).not.toMatch(/\$\{token\[|#\{token\[/i);
  });
});

describe('function environment size (Lambda allows 4 KB)', () => {
  test('thirty database users fit: the user list is not in the environment', () => {
    const users = Array.from({ length: 30 }, (_, i) => ({ username: `user_${i}`, databases: ['app', 'reporting'], schemas: ['public', 'sales'] }));
    expect(() => defaultStack({ databaseUsers: users })).not.toThrow();
  });

  test('oversized tags fail at synth time with what to do, not at deploy time', () => {
    const clusterTags = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`cost-allocation-tag-${i}`, 'x'.repeat(60)]));
    expect(() => defaultStack({ clusterTags })).toThrow(/configuration would take about \d+ bytes, over Lambda's 4096-byte limit.*fewer or shorter clusterTags/);
  });
});
