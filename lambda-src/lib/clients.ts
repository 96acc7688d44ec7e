import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { RDSClient } from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { loadConfig } from './config';

/*
 * SDK clients, created once per container and region. No explicit endpoint, so AWS_ENDPOINT_URL (and
 * AWS_ENDPOINT_URL_<SERVICE>) work. Few SDK attempts: the state machine owns the retries, with backoff
 * and a budget, so a throttled call surfaces quickly under its own name.
 */
const MAX_ATTEMPTS = 3;

const rdsClients = new Map<string, RDSClient>();
const kmsClients = new Map<string, KMSClient>();
let ddbClient: { region: string; client: DynamoDBDocumentClient } | undefined;
let snsClient: { region: string; client: SNSClient } | undefined;
let secretsClient: { region: string; client: SecretsManagerClient } | undefined;
let sfnClient: { region: string; client: SFNClient } | undefined;

/** The RDS client of a region (the source or the target region). */
export function rds(region: string): RDSClient {
  let client = rdsClients.get(region);
  if (!client) {
    client = new RDSClient({ region, maxAttempts: MAX_ATTEMPTS });
    rdsClients.set(region, client);
  }
  return client;
}

/** The KMS client of a region (the preflight describes the copy key and the source snapshot's key). */
export function kms(region: string): KMSClient {
  let client = kmsClients.get(region);
  if (!client) {
    client = new KMSClient({ region, maxAttempts: MAX_ATTEMPTS });
    kmsClients.set(region, client);
  }
  return client;
}

/** The DynamoDB document client of the target region (state and audit tables). */
export function ddb(): DynamoDBDocumentClient {
  const region = loadConfig().targetRegion;
  if (!ddbClient || ddbClient.region !== region) {
    const base = new DynamoDBClient({ region, maxAttempts: MAX_ATTEMPTS });
    ddbClient = { region, client: DynamoDBDocumentClient.from(base, { marshallOptions: { removeUndefinedValues: true } }) };
  }
  return ddbClient.client;
}

/** The SNS client of the target region. */
export function sns(): SNSClient {
  const region = loadConfig().targetRegion;
  if (!snsClient || snsClient.region !== region) {
    snsClient = { region, client: new SNSClient({ region, maxAttempts: MAX_ATTEMPTS }) };
  }
  return snsClient.client;
}

/** The Secrets Manager client of the target region. */
export function secrets(): SecretsManagerClient {
  const region = loadConfig().targetRegion;
  if (!secretsClient || secretsClient.region !== region) {
    secretsClient = { region, client: new SecretsManagerClient({ region, maxAttempts: MAX_ATTEMPTS }) };
  }
  return secretsClient.client;
}

/** The Step Functions client of the target region (the pipeline's state machine). */
export function sfn(): SFNClient {
  const region = loadConfig().targetRegion;
  if (!sfnClient || sfnClient.region !== region) {
    sfnClient = { region, client: new SFNClient({ region, maxAttempts: MAX_ATTEMPTS }) };
  }
  return sfnClient.client;
}
