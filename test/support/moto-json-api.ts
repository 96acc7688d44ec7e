/*
 * A minimal caller of AWS JSON-protocol APIs (KMS, SQS) against moto, for the few calls the harness makes
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
      'authorization': `AWS4-HMAC-SHA256 Credential=testing/${scope}, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=${'0'.repeat(64)}`,
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
