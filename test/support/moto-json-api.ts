/*
 * A minimal caller of AWS JSON-protocol APIs (KMS, SQS) and query-protocol APIs (IAM, STS) against moto, for the few calls the harness makes
 * to services the project has no SDK v3 client for (only the clients the handlers use are dependencies).
 *
 * moto does not check signatures: it reads the region and the service from the SigV4 credential scope of
 * the Authorization header, so the header carries a real scope and a placeholder signature.
 */

/** The JSON-protocol services this caller knows. */
export type JsonService = 'kms' | 'sqs';

const PROTOCOL: Record<JsonService, { targetPrefix: string; contentType: string }> = {
  kms: { targetPrefix: 'TrentService', contentType: 'application/x-amz-json-1.1' },
  sqs: { targetPrefix: 'AmazonSQS', contentType: 'application/x-amz-json-1.0' },
};

/** An error answered by the service, named like the SDK v3 names it (`NotFoundException`, ...). */
export class AwsJsonError extends Error {
  constructor(name: string, message: string, readonly statusCode: number) {
    super(message);
    this.name = name;
  }
}

/** Where and as whom to call. */
export interface JsonCallTarget {
  /** moto's endpoint, `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  /** The region the call is scoped to. */
  readonly region: string;
  /** The access key to sign with, which moto reads the account from. Default `testing` (moto's default account). */
  readonly accessKeyId?: string;
}

/** Calls `action` (e.g. `CreateKey`) of `service` with `body` and returns the parsed answer. */
export async function awsJsonCall<T = Record<string, any>>(
  target: JsonCallTarget, service: JsonService, action: string, body: Record<string, unknown> = {},
): Promise<T> {
  const { targetPrefix, contentType } = PROTOCOL[service];
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const scope = `${amzDate.slice(0, 8)}/${target.region}/${service}/aws4_request`;
  const res = await fetch(`${target.endpoint}/`, {
    method: 'POST',
    headers: {
      'content-type': contentType,
      'x-amz-target': `${targetPrefix}.${action}`,
      'x-amz-date': amzDate,
      'authorization': `AWS4-HMAC-SHA256 Credential=${target.accessKeyId ?? 'testing'}/${scope}, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=${'0'.repeat(64)}`,
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const parsed = text ? JSON.parse(text) : {};
  if (!res.ok) {
    const type = String(parsed.__type ?? 'UnknownError').split('#').pop()!;
    throw new AwsJsonError(type, `${service} ${action} failed (${res.status} ${type}): ${parsed.message ?? parsed.Message ?? text}`, res.status);
  }
  return parsed as T;
}

/** The query-protocol services {@link awsQueryCall} knows (no SDK v3 client of theirs is a dependency). */
export type QueryService = 'iam' | 'sts';

const QUERY_VERSION: Record<QueryService, string> = { iam: '2010-05-08', sts: '2011-06-15' };

/** An answer of a query-protocol API: its XML, and the text of the first element of a name. */
export interface QueryAnswer {
  readonly xml: string;
  /** The text of the first `<name>` element, if any (entities decoded). */
  text(name: string): string | undefined;
}

function firstText(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return m?.[1].replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** Calls `action` of a query-protocol service (IAM, STS) with form `params`; throws an error named by the answer's Code. */
export async function awsQueryCall(
  target: JsonCallTarget, service: QueryService, action: string, params: Record<string, string> = {}, headers: Record<string, string> = {},
): Promise<QueryAnswer> {
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const scope = `${amzDate.slice(0, 8)}/${target.region}/${service}/aws4_request`;
  const res = await fetch(`${target.endpoint}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      'x-amz-date': amzDate,
      'authorization': `AWS4-HMAC-SHA256 Credential=${target.accessKeyId ?? 'testing'}/${scope}, SignedHeaders=content-type;host;x-amz-date, Signature=${'0'.repeat(64)}`,
      ...headers,
    },
    body: new URLSearchParams({ Action: action, Version: QUERY_VERSION[service], ...params }).toString(),
  });
  const xml = await res.text();
  if (!res.ok) {
    const code = firstText(xml, 'Code') ?? 'UnknownError';
    throw new AwsJsonError(code, `${service} ${action} failed (${res.status} ${code}): ${firstText(xml, 'Message') ?? xml}`, res.status);
  }
  return { xml, text: (name) => firstText(xml, name) };
}
