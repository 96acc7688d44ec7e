/*
 * The preflight's EC2 Query API call: against moto (security groups that exist, are missing or malformed), and
 * against a local HTTP server answering EC2's documented error responses moto does not produce (access denied,
 * throttling, a server fault without a body EC2 would send).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateSecurityGroupCommand, CreateVpcCommand, EC2Client } from '@aws-sdk/client-ec2';
import { describeSecurityGroupIds, ec2Endpoint, ec2Query, EC2_API_VERSION, Ec2ServiceError } from '../../lambda-src/lib/ec2-query';
import { mapAwsError } from '../../lambda-src/lib/errors';
import { PipelineErrorName } from '../../src/contracts';
import { motoClientEnv, startMoto, type MotoServer } from '../support/moto';

const REGION = 'eu-west-1';
const ENV_KEYS = ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_EC2', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS'];
const saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));

let moto: MotoServer;
let groupIds: string[];

beforeAll(async () => {
  moto = await startMoto();
  Object.assign(process.env, motoClientEnv(moto));
  delete process.env.AWS_ENDPOINT_URL_EC2;
  const ec2 = new EC2Client({ region: REGION });
  const { Vpc } = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }));
  groupIds = [];
  for (const name of ['db-a', 'db-b']) {
    const { GroupId } = await ec2.send(new CreateSecurityGroupCommand({ GroupName: name, Description: name, VpcId: Vpc!.VpcId }));
    groupIds.push(GroupId!);
  }
  ec2.destroy();
}, 120_000);

// moto's server gets 5 s to exit on SIGTERM before SIGKILL: more than jest's default hook timeout on a busy machine.
afterAll(async () => {
  await moto?.stop();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}, 60_000);

describe('against moto', () => {
  test('returns the groups that exist', async () => {
    expect(await describeSecurityGroupIds(REGION, [groupIds[0]])).toEqual([groupIds[0]]);
    expect((await describeSecurityGroupIds(REGION, groupIds)).sort()).toEqual([...groupIds].sort());
  });

  test('a group of another region is not found there', async () => {
    await expect(describeSecurityGroupIds('us-east-1', [groupIds[0]])).rejects.toMatchObject({ name: 'InvalidGroup.NotFound' });
  });

  test('a missing group is EC2\'s InvalidGroup.NotFound, a client fault naming the group', async () => {
    const err = await describeSecurityGroupIds(REGION, ['sg-0123456789abcdef0']).catch((e) => e);
    expect(err).toBeInstanceOf(Ec2ServiceError);
    expect(err).toMatchObject({ name: 'InvalidGroup.NotFound', $fault: 'client', $metadata: { httpStatusCode: 400 } });
    expect(err.message).toContain('sg-0123456789abcdef0');
  });
});

describe('the endpoint, as the SDK\'s EC2 client would choose it', () => {
  test('AWS_ENDPOINT_URL_EC2, then AWS_ENDPOINT_URL, unless configured endpoints are ignored', () => {
    expect(ec2Endpoint(REGION, { AWS_ENDPOINT_URL_EC2: 'http://ec2.local:1', AWS_ENDPOINT_URL: 'http://all.local:2' }).href).toBe('http://ec2.local:1/');
    expect(ec2Endpoint(REGION, { AWS_ENDPOINT_URL: 'http://all.local:2' }).href).toBe('http://all.local:2/');
    expect(ec2Endpoint(REGION, { AWS_ENDPOINT_URL: 'http://all.local:2', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' }).href).toBe('https://ec2.eu-west-1.amazonaws.com/');
  });

  test('else the regional endpoint of the region\'s partition', () => {
    expect(ec2Endpoint('us-gov-west-1', {}).href).toBe('https://ec2.us-gov-west-1.amazonaws.com/');
    expect(ec2Endpoint('cn-north-1', {}).href).toBe('https://ec2.cn-north-1.amazonaws.com.cn/');
  });
});

describe('EC2\'s error answers (a local server)', () => {
  let server: http.Server;
  let answer: { status: number; body: string };
  const received: Array<{ method?: string; headers: http.IncomingHttpHeaders; body: string }> = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ method: req.method, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(answer.status, { 'content-type': 'text/xml;charset=UTF-8' });
        res.end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    process.env.AWS_ENDPOINT_URL_EC2 = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    delete process.env.AWS_ENDPOINT_URL_EC2;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const ec2ErrorXml = (code: string, message: string) =>
    `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>req-1</RequestID></Response>`;

  test('sends one SigV4-signed Query API request for ec2 in the region', async () => {
    answer = { status: 200, body: '<DescribeSecurityGroupsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><securityGroupInfo/></DescribeSecurityGroupsResponse>' };
    received.length = 0;
    expect(await describeSecurityGroupIds(REGION, ['sg-1', 'sg-2'])).toEqual([]);
    expect(received).toHaveLength(1);
    const [req] = received;
    expect(req.method).toBe('POST');
    expect(Object.fromEntries(new URLSearchParams(req.body))).toEqual({ 'Action': 'DescribeSecurityGroups', 'Version': EC2_API_VERSION, 'GroupId.1': 'sg-1', 'GroupId.2': 'sg-2' });
    expect(req.headers.authorization).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=testing/\\d{8}/${REGION}/ec2/aws4_request, SignedHeaders=\\S*host\\S*, Signature=[0-9a-f]{64}$`));
  });

  test('UnauthorizedOperation keeps EC2\'s code and becomes PermissionDenied', async () => {
    answer = { status: 403, body: ec2ErrorXml('UnauthorizedOperation', 'You are not authorized to perform this operation.') };
    const err = await describeSecurityGroupIds(REGION, ['sg-1']).catch((e) => e);
    expect(err).toMatchObject({ name: 'UnauthorizedOperation', message: 'You are not authorized to perform this operation.', $fault: 'client', $metadata: { httpStatusCode: 403, requestId: 'req-1' } });
    expect(mapAwsError(err, 'Preflight check')).toMatchObject({ name: PipelineErrorName.PERMISSION_DENIED });
  });

  test('InvalidGroupId.Malformed keeps EC2\'s code', async () => {
    answer = { status: 400, body: ec2ErrorXml('InvalidGroupId.Malformed', 'Invalid id: "db" (expecting "sg-...")') };
    await expect(describeSecurityGroupIds(REGION, ['db'])).rejects.toMatchObject({ name: 'InvalidGroupId.Malformed' });
  });

  test('RequestLimitExceeded is throttling, which the state machine retries', async () => {
    answer = { status: 503, body: ec2ErrorXml('RequestLimitExceeded', 'Request limit exceeded.') };
    await expect(ec2Query(REGION, 'DescribeSecurityGroups', {})).rejects.toMatchObject({ name: 'Throttling', message: 'EC2 RequestLimitExceeded: Request limit exceeded.' });
  });

  test('an answer without EC2\'s error body is a server fault (5xx) or an unknown client error', async () => {
    answer = { status: 502, body: 'Bad Gateway' };
    const err = await ec2Query(REGION, 'DescribeSecurityGroups', {}).catch((e) => e);
    expect(err).toMatchObject({ name: 'InternalError', $fault: 'server', $metadata: { httpStatusCode: 502 } });
    expect(mapAwsError(err, 'Preflight check')).toMatchObject({ name: PipelineErrorName.AWS_SERVICE_UNAVAILABLE });
    answer = { status: 404, body: '' };
    await expect(ec2Query(REGION, 'DescribeSecurityGroups', {})).rejects.toMatchObject({ name: 'UnknownError', $fault: 'client', message: expect.stringContaining('HTTP 404') });
  });
});
