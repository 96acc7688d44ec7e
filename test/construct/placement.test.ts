import { Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { defaultStack, fullStack } from './stacks';
import { HandlerPlacement } from '../../src';

/** Function construct id (e.g. `SetupDbUsers`) → its template resource. */
function functionsById(t: Template): Record<string, any> {
  return Object.fromEntries(Object.entries(t.findResources('AWS::Lambda::Function'))
    .map(([logicalId, r]) => [/^RestoreHandlers([A-Za-z]+?)[0-9A-F]{8}$/.exec(logicalId)![1], r]));
}

/** Every statement of the policies (managed and inline) attached to a function's role. */
function roleStatements(t: Template, fnId: string): any[] {
  const byPrefix = (type: string, prefix: string) => Object.entries(t.findResources(type))
    .filter(([id]) => id.startsWith(prefix))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as any[]);
  return [...byPrefix('AWS::IAM::ManagedPolicy', `RestoreHandlers${fnId}ExecutionPolicy`), ...byPrefix('AWS::IAM::Policy', `RestoreHandlers${fnId}Role`)];
}

/** The preflight's one EC2 action (SnapshotCheck: do the restored cluster's security groups exist?), not about placement. */
const PREFLIGHT_EC2 = 'ec2:DescribeSecurityGroups';
/** Statements with EC2 actions that concern the function's own network placement. */
const ec2Statements = (statements: any[]) => statements.filter((s) => [s.Action].flat().some((a: string) => a.startsWith('ec2:') && a !== PREFLIGHT_EC2));
const sgRef = (name: string) => ({ 'Fn::GetAtt': [expect.stringMatching(new RegExp(`^RestoreHandlers${name}[0-9A-F]{8}$`)), 'GroupId'] });
const API_FUNCTIONS = ['SnapshotCheck', 'CopySnapshot', 'CheckCopyStatus', 'DeleteRds', 'RestoreSnapshot', 'CheckRestoreStatus', 'Cutover', 'ArchiveSnapshot', 'SnsNotification'];
/** The functions that connect to the restored cluster (`database: true`). */
const DB_FUNCTIONS = ['SetupDbUsers', 'ValidateRestore'];

/** The statements Lambda's VPC attachment needs, scoped to the imported VPC's two subnets and `sg`. */
function expectScopedNetworkInterfaceStatements(statements: any[], sg: string) {
  const region = 'eu-west-1';
  const eni = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:ec2:${region}:123456789012:network-interface/*`]] };
  expect(ec2Statements(statements)).toEqual([
    {
      Effect: 'Allow',
      Action: 'ec2:CreateNetworkInterface',
      Resource: [
        eni,
        // Any account: the subnets of a shared VPC belong to its owner.
        { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:ec2:${region}:*:subnet/subnet-0aaaaaaaaaaaaaaa1`]] },
        { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:ec2:${region}:*:subnet/subnet-0aaaaaaaaaaaaaaa2`]] },
        { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:ec2:${region}:123456789012:security-group/`, sgRef(sg)]] },
      ],
    },
    {
      Effect: 'Allow',
      Action: ['ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
      Resource: eni,
      Condition: { ArnEqualsIfExists: { 'ec2:Vpc': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:ec2:${region}:*:vpc/vpc-0123456789abcdef0`]] } } },
    },
    { Effect: 'Allow', Action: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'], Resource: '*' },
    {
      Effect: 'Deny',
      Action: ['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
      Resource: '*',
      Condition: { Null: { 'lambda:SourceFunctionArn': 'false' } },
    },
  ]);
}

describe('handlerPlacement DATABASE_ONLY (the default)', () => {
  const t = Template.fromStack(defaultStack().stack);
  const fns = functionsById(t);

  test('only the database functions (setup-db-users, validate-restore) run in the VPC, with their own security group', () => {
    expect(Object.keys(fns).sort()).toEqual([...API_FUNCTIONS, ...DB_FUNCTIONS].sort());
    for (const id of DB_FUNCTIONS) {
      expect(fns[id].Properties.VpcConfig).toEqual({
        SubnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0aaaaaaaaaaaaaaa2'],
        SecurityGroupIds: [sgRef('DbUsersSecurityGroup')],
      });
    }
    for (const id of API_FUNCTIONS) expect(fns[id].Properties.VpcConfig).toBeUndefined();
  });

  test('checkov\'s Lambda-in-VPC check (CKV_AWS_117) is skipped, with the reason, for exactly the functions outside', () => {
    for (const id of API_FUNCTIONS) {
      expect(fns[id].Metadata.checkov).toEqual({ skip: [{ id: 'CKV_AWS_117', comment: expect.stringMatching(/calls AWS APIs only.*no network path to data/) }] });
    }
    for (const id of DB_FUNCTIONS) expect(fns[id].Metadata?.checkov).toBeUndefined();
  });

  test('no security group for the AWS-API functions: only the database functions\' and the cluster\'s', () => {
    const groups = Object.keys(t.findResources('AWS::EC2::SecurityGroup'));
    expect(groups).toHaveLength(2);
    expect(groups.some((id) => id.includes('ApiSecurityGroup'))).toBe(false);
  });

  test('functions outside the VPC have no EC2 permission but the preflight\'s read of security groups', () => {
    for (const id of API_FUNCTIONS) {
      expect(roleStatements(t, id).length).toBeGreaterThan(0);
      expect(ec2Statements(roleStatements(t, id))).toEqual([]);
      const ec2Actions = roleStatements(t, id).flatMap((s) => [s.Action].flat()).filter((a: string) => a.startsWith('ec2:'));
      expect(ec2Actions).toEqual(id === 'SnapshotCheck' ? [PREFLIGHT_EC2] : []);
    }
  });

  test('the database functions may manage network interfaces only in their subnets, security group and VPC; their code may not', () => {
    for (const id of DB_FUNCTIONS) expectScopedNetworkInterfaceStatements(roleStatements(t, id), 'DbUsersSecurityGroup');
  });

  test('no write action of EC2 is allowed on every resource (checkov CKV_AWS_111)', () => {
    for (const id of Object.keys(fns)) {
      for (const s of ec2Statements(roleStatements(t, id)).filter((x) => x.Effect === 'Allow' && x.Resource === '*')) {
        expect([s.Action].flat().every((a: string) => a.startsWith('ec2:Describe'))).toBe(true);
      }
    }
  });

  test('a cross-region restore does not warn about the network', () => {
    const { stack } = defaultStack({ sourceRegion: 'us-east-1' });
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('ALL_IN_VPC'))).toEqual([]);
  });
});

describe('handlerPlacement ALL_IN_VPC', () => {
  const t = Template.fromStack(defaultStack({ handlerPlacement: HandlerPlacement.ALL_IN_VPC }).stack);
  const fns = functionsById(t);

  test('every function runs in the VPC: the AWS-API functions under ApiSecurityGroup, setup-db-users under its own', () => {
    for (const id of API_FUNCTIONS) {
      expect(fns[id].Properties.VpcConfig).toEqual({ SubnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0aaaaaaaaaaaaaaa2'], SecurityGroupIds: [sgRef('ApiSecurityGroup')] });
    }
    for (const id of DB_FUNCTIONS) expect(fns[id].Properties.VpcConfig.SecurityGroupIds).toEqual([sgRef('DbUsersSecurityGroup')]);
    t.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'Aurora restore pipeline handlers: HTTPS to AWS APIs only',
      SecurityGroupEgress: [Match.objectLike({ FromPort: 443, ToPort: 443, CidrIp: '0.0.0.0/0' })],
    });
  });

  test('no checkov check is skipped', () => {
    for (const fn of Object.values(fns)) expect(fn.Metadata?.checkov).toBeUndefined();
  });

  test('each function\'s network-interface permissions name its own security group', () => {
    for (const id of API_FUNCTIONS) expectScopedNetworkInterfaceStatements(roleStatements(t, id), 'ApiSecurityGroup');
    for (const id of DB_FUNCTIONS) expectScopedNetworkInterfaceStatements(roleStatements(t, id), 'DbUsersSecurityGroup');
  });

  test('a cross-region restore warns that the VPC needs a NAT path', () => {
    const { stack } = defaultStack({ handlerPlacement: HandlerPlacement.ALL_IN_VPC, sourceRegion: 'us-east-1' });
    const warnings = Annotations.fromStack(stack).findWarning('/Default/Restore', Match.stringLikeRegexp('ALL_IN_VPC'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0].entry.data).toMatch(/source region \(us-east-1\) differs from the stack's region.*interface endpoints cannot reach.*NAT path.*DATABASE_ONLY/);
  });

  test('a same-region restore does not warn', () => {
    for (const extra of [{}, { sourceRegion: 'eu-west-1' }]) {
      const { stack } = defaultStack({ handlerPlacement: HandlerPlacement.ALL_IN_VPC, ...extra });
      expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
    }
  });
});

describe('endpointSecurityGroups', () => {
  const ingressFrom = (stack: Stack) => Object.values(Template.fromStack(stack).findResources('AWS::EC2::SecurityGroupIngress'))
    .map((r) => r.Properties)
    .filter((p) => p.GroupId === 'sg-0eeeeeeeeeeeeeee1');

  test.each([
    [HandlerPlacement.DATABASE_ONLY, ['DbUsersSecurityGroup']],
    [HandlerPlacement.ALL_IN_VPC, ['DbUsersSecurityGroup', 'ApiSecurityGroup']],
  ])('%s: each endpoint admits the functions in the VPC on HTTPS, nothing else', (placement, groups) => {
    const rules = ingressFrom(fullStack('eu-west-1', placement).stack);
    expect(rules).toEqual(groups.map((g) => ({
      IpProtocol: 'tcp', FromPort: 443, ToPort: 443, GroupId: 'sg-0eeeeeeeeeeeeeee1', SourceSecurityGroupId: sgRef(g), Description: expect.any(String),
    })));
  });

  test('nothing is added without them, and no endpoint is ever created', () => {
    for (const placement of [HandlerPlacement.DATABASE_ONLY, HandlerPlacement.ALL_IN_VPC]) {
      const { stack } = defaultStack({ handlerPlacement: placement, endpointSecurityGroups: [] });
      const t = Template.fromStack(stack);
      expect(Object.values(t.findResources('AWS::EC2::SecurityGroupIngress')).map((r) => r.Properties.FromPort)).toEqual([5432]);
      t.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    }
  });
});
