/*
 * EC2's DescribeSecurityGroups as one signed request of EC2's Query API, built from the SDK parts every handler
 * bundle already carries: the SigV4 signer, the Node HTTP handler, the default credential chain and the SDK's
 * XML parser. Not @aws-sdk/client-ec2: that client registers EC2's whole schema and error set when it loads, which
 * took the SnapshotCheck bundle from 459 KiB to 1,081 KiB for this one read (`npx projen bench:bundles`,
 * 2026-12-04). Same action, same IAM permission (ec2:DescribeSecurityGroups), same error codes.
 */
import { partition } from '@aws-sdk/core/client';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { parseXML } from '@aws-sdk/xml-builder';
import { HttpRequest } from '@smithy/core/protocols';
import { Hash } from '@smithy/core/serde';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';

/** The EC2 API version of the Query API requests (the version every current SDK sends). */
export const EC2_API_VERSION = '2016-11-15';

/** An error EC2 answered, shaped like the SDK's service exceptions (`name` is EC2's error code). */
export class Ec2ServiceError extends Error {
  /** Who is at fault, as the SDK says it: `server` for 5xx answers. */
  readonly $fault: 'client' | 'server';
  /** The HTTP status and EC2's request id. */
  readonly $metadata: { httpStatusCode: number; requestId?: string };
  constructor(code: string, message: string, status: number, requestId?: string) {
    super(message);
    this.name = code;
    this.$fault = status >= 500 ? 'server' : 'client';
    this.$metadata = { httpStatusCode: status, requestId };
  }
}

let credentials: ReturnType<typeof defaultProvider> | undefined;
let handler: NodeHttpHandler | undefined;

/**
 * The endpoint the SDK's EC2 client would use: AWS_ENDPOINT_URL_EC2, then AWS_ENDPOINT_URL (unless
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true), else the regional endpoint of the region's partition.
 */
export function ec2Endpoint(region: string, env: NodeJS.ProcessEnv = process.env): URL {
  const configured = env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === 'true'
    ? undefined
    : env.AWS_ENDPOINT_URL_EC2 || env.AWS_ENDPOINT_URL;
  return new URL(configured || `https://ec2.${region}.${partition(region).dnsSuffix}`);
}

/** Sends one EC2 Query API action and returns its parsed XML answer; an error answer throws {@link Ec2ServiceError}. */
export async function ec2Query(region: string, action: string, params: Record<string, string>): Promise<any> {
  const url = ec2Endpoint(region);
  const body = new URLSearchParams({ Action: action, Version: EC2_API_VERSION, ...params }).toString();
  const request = new HttpRequest({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    headers: {
      'host': url.host,
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
    },
    body,
  });
  credentials ??= defaultProvider();
  handler ??= new NodeHttpHandler({ connectionTimeout: 5_000, requestTimeout: 30_000 });
  const signer = new SignatureV4({ credentials, region, service: 'ec2', sha256: Hash.bind(null, 'sha256') });
  const { response } = await handler.handle(await signer.sign(request) as HttpRequest);
  const chunks: Buffer[] = [];
  for await (const chunk of response.body as AsyncIterable<Buffer>) chunks.push(Buffer.from(chunk));
  const text = Buffer.concat(chunks).toString('utf8');
  const status = response.statusCode;
  let parsed: any;
  try {
    parsed = text ? parseXML(text) : {};
  } catch {
    parsed = undefined;
  }
  if (status >= 200 && status < 300 && parsed) return parsed;
  // EC2's error answer: <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>.
  const error = [parsed?.Response?.Errors?.Error].flat()[0];
  const requestId = parsed?.Response?.RequestID ?? parsed?.Response?.RequestId;
  if (error?.Code === 'RequestLimitExceeded') {
    // EC2's throttling code: named as the SDK's throttling so the state machine retries the step with backoff.
    throw new Ec2ServiceError('Throttling', `EC2 RequestLimitExceeded: ${String(error.Message ?? '')}`, status, requestId);
  }
  if (error?.Code) throw new Ec2ServiceError(String(error.Code), String(error.Message ?? error.Code), status, requestId);
  throw new Ec2ServiceError(status >= 500 ? 'InternalError' : 'UnknownError', `EC2 ${action} answered HTTP ${status}: ${text.slice(0, 200)}`, status);
}

/** The ids of `groupIds` that DescribeSecurityGroups returns (in its order); EC2's errors are thrown as such. */
export async function describeSecurityGroupIds(region: string, groupIds: string[]): Promise<string[]> {
  const params = Object.fromEntries(groupIds.map((id, i) => [`GroupId.${i + 1}`, id]));
  const out = await ec2Query(region, 'DescribeSecurityGroups', params);
  const items = [out?.DescribeSecurityGroupsResponse?.securityGroupInfo?.item ?? []].flat();
  return items.map((g: any) => g?.groupId).filter((id: unknown): id is string => typeof id === 'string');
}
