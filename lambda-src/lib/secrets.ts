import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { secrets } from './clients';
import { errors, isThrottling, mapAwsError } from './errors';

/** Secrets Manager faults that mean "this secret cannot be used": the fix is on the secret or the role. */
const SECRET_FAULTS = new Set([
  'ResourceNotFoundException',
  'AccessDeniedException',
  'DecryptionFailure',
  'InvalidRequestException',
  'InvalidParameterException',
]);

/**
 * Reads a secret and parses its JSON. `purpose` says what the secret is for, e.g. `the master password of
 * the restored cluster`. Every error names the secret's ARN and never its value.
 */
export async function getSecretJson(secretArn: string, purpose: string): Promise<Record<string, string>> {
  let secretString: string | undefined;
  try {
    const out = await secrets().send(new GetSecretValueCommand({ SecretId: secretArn }));
    secretString = out.SecretString;
  } catch (err) {
    if (isThrottling(err)) throw err;
    const name = (err as { name?: string }).name ?? '';
    if (SECRET_FAULTS.has(name)) {
      throw errors.secretInvalid(`Cannot read secret ${secretArn} (${purpose}): ${name}. Check that the secret exists in the target region, is not scheduled for deletion, and that the pipeline's role may call secretsmanager:GetSecretValue on it and decrypt it with its KMS key.`);
    }
    throw mapAwsError(err, `Reading secret ${secretArn} (${purpose})`);
  }
  if (secretString === undefined) {
    throw errors.secretInvalid(`Secret ${secretArn} (${purpose}) has no SecretString (it is binary or empty). Store a JSON object of strings in it, e.g. {"password": "..."}.`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    // The parser's message may quote the secret's text: never pass it on.
    throw errors.secretInvalid(`Secret ${secretArn} (${purpose}) is not valid JSON. Store a JSON object of strings in it, e.g. {"password": "..."}.`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw errors.secretInvalid(`Secret ${secretArn} (${purpose}) is not a JSON object. Store a JSON object of strings in it, e.g. {"password": "..."}.`);
  }
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof value === 'string') result[key] = value;
    else if (typeof value === 'number' || typeof value === 'boolean') result[key] = String(value);
  }
  return result;
}

/** The value of `key` in a secret read by {@link getSecretJson}; a missing or empty key is `SecretInvalid`. */
export function requireSecretKey(secret: Record<string, string>, key: string, secretArn: string, purpose: string): string {
  const value = secret[key];
  if (value === undefined || value === '') {
    throw errors.secretInvalid(`Secret ${secretArn} (${purpose}) has no non-empty JSON key "${key}". Add the key "${key}" to the secret, or configure the key the pipeline should read.`);
  }
  return value;
}
