/*
 * Evaluates requests against the IAM policies of a synthesized template with @cloud-copilot/iam-simulate
 * (AGPL-3.0: a dev dependency of the tests, never bundled into assets/ or shipped).
 *
 * Each Lambda function's role gets the identity policies the template attaches to it (inline policies,
 * AWS::IAM::Policy, AWS::IAM::ManagedPolicy), resolved to plain ARNs with the template's resolver. KMS also
 * asks the key policy: the template's own keys use their KeyPolicy, a key from outside the template the
 * default key policy (the account may grant through IAM).
 */
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import type { CfnTemplate, TemplateResolver } from './template';

/** A policy document as IAM reads it. */
export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: unknown[];
}

/** One request to evaluate. */
export interface IamRequest {
  /** `service:Action`, e.g. `rds:DeleteDBCluster`. */
  readonly action: string;
  /** The resource ARN, as AWS builds it (RDS identifiers in lower case). */
  readonly resource: string;
  /** Tags the resource carries at that moment (`aws:ResourceTag/<key>`). */
  readonly resourceTags?: Record<string, string>;
  /** Tags in the request (`aws:RequestTag/<key>`, `aws:TagKeys`). */
  readonly requestTags?: Record<string, string>;
  /** Tag keys in the request without values (e.g. RemoveTagsFromResource): `aws:TagKeys` only. */
  readonly requestTagKeys?: string[];
  /** Other condition keys, e.g. `kms:ViaService`. */
  readonly context?: Record<string, string | string[]>;
  /**
   * The resource's policy, for a resource that has one outside KMS (whose key policies come from `keys`): e.g. a
   * cluster snapshot shared with other accounts, whose share acts as one.
   */
  readonly resourcePolicy?: PolicyDocument;
}

/** What IAM decided. */
export type IamDecision = 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied';

/** The role of a function and the identity policies attached to it. */
export interface FunctionRole {
  readonly functionLogicalId: string;
  readonly roleLogicalId: string;
  readonly roleArn: string;
  readonly policies: Array<{ name: string; policy: PolicyDocument }>;
}

function refOf(value: unknown): string | undefined {
  const v = value as { 'Ref'?: string; 'Fn::GetAtt'?: [string, string] } | undefined;
  return v?.Ref ?? v?.['Fn::GetAtt']?.[0];
}

/** The identity policies the template attaches to role `roleId` (inline, AWS::IAM::Policy, AWS::IAM::ManagedPolicy). */
export function policiesOfRole(template: CfnTemplate, resolver: TemplateResolver, roleId: string): Array<{ name: string; policy: PolicyDocument }> {
  const out: Array<{ name: string; policy: PolicyDocument }> = [];
  const role = template.Resources[roleId];
  for (const inline of role.Properties?.Policies ?? []) {
    out.push({ name: `${roleId}/${inline.PolicyName}`, policy: resolver.resolve(inline.PolicyDocument) });
  }
  if ((role.Properties?.ManagedPolicyArns ?? []).length > 0) {
    throw new Error(`${roleId} has ManagedPolicyArns, which this evaluator cannot read`);
  }
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::IAM::Policy' && r.Type !== 'AWS::IAM::ManagedPolicy') continue;
    if (!(r.Properties?.Roles ?? []).some((ref: unknown) => refOf(ref) === roleId)) continue;
    out.push({ name: id, policy: resolver.resolve(r.Properties!.PolicyDocument) });
  }
  return out;
}

/** The identity policies of every Lambda function's role, by function logical id. */
export function functionRoles(template: CfnTemplate, resolver: TemplateResolver): Map<string, FunctionRole> {
  const resources = Object.entries(template.Resources);
  const roles = new Map<string, FunctionRole>();
  for (const [id, r] of resources) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const roleId = refOf(r.Properties?.Role);
    if (!roleId) throw new Error(`${id} has no role of this template`);
    roles.set(id, {
      functionLogicalId: id,
      roleLogicalId: roleId,
      roleArn: resolver.resolveString({ 'Fn::GetAtt': [roleId, 'Arn'] }),
      policies: policiesOfRole(template, resolver, roleId),
    });
  }
  return roles;
}

/** The key policies of the template's KMS keys, by key ARN. */
export function keyPolicies(template: CfnTemplate, resolver: TemplateResolver): Map<string, PolicyDocument> {
  const out = new Map<string, PolicyDocument>();
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::KMS::Key') continue;
    out.set(resolver.resolveString({ 'Fn::GetAtt': [id, 'Arn'] }), resolver.resolve(r.Properties?.KeyPolicy));
  }
  return out;
}

/** The default key policy of a key outside the template: IAM policies of the account decide. */
function defaultKeyPolicy(account: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'kms:*', Resource: '*' }],
  };
}

/** The context keys of a request. */
export function contextOf(request: IamRequest): Record<string, string | string[]> {
  const context: Record<string, string | string[]> = { ...request.context };
  for (const [k, v] of Object.entries(request.resourceTags ?? {})) context[`aws:ResourceTag/${k}`] = v;
  const requestTags = request.requestTags ?? {};
  for (const [k, v] of Object.entries(requestTags)) context[`aws:RequestTag/${k}`] = v;
  const keys = [...Object.keys(requestTags), ...(request.requestTagKeys ?? [])];
  if (keys.length > 0) context['aws:TagKeys'] = keys;
  return context;
}

/** Evaluates requests against the roles of one synthesized template. */
export class TemplateIam {
  readonly roles: Map<string, FunctionRole>;
  private readonly keys: Map<string, PolicyDocument>;

  /** `otherKeys`: policies of keys outside the template the functions use (another account's, by key ARN). */
  constructor(template: CfnTemplate, private readonly resolver: TemplateResolver, otherKeys: Map<string, PolicyDocument> = new Map()) {
    this.roles = functionRoles(template, resolver);
    this.keys = new Map([...otherKeys, ...keyPolicies(template, resolver)]);
  }

  /** The key policies this evaluator knows, by key ARN. */
  get keyPolicies(): ReadonlyMap<string, PolicyDocument> {
    return this.keys;
  }

  /** The function logical id whose construct id is `id` (e.g. `DeleteRds`). */
  functionId(id: string): string {
    const matching = [...this.roles.keys()].filter((k) => new RegExp(`Handlers${id}[0-9A-F]{8}$`).test(k));
    if (matching.length !== 1) throw new Error(`Expected one function ${id}, found ${matching.join(', ') || 'none'}`);
    return matching[0];
  }

  /** IAM's decision on `request` made with the role of function `functionLogicalId`. Throws on an invalid request. */
  async decide(functionLogicalId: string, request: IamRequest): Promise<IamDecision> {
    const role = this.roles.get(functionLogicalId);
    if (!role) throw new Error(`No function ${functionLogicalId} in the template`);
    return decideAs(role.roleArn, role.policies, request, this.keys, this.resolver.account);
  }
}

/**
 * IAM's decision on `request` made by `principalArn` with these identity policies. A KMS request also asks the key
 * policy: the one in `keys` for the key, else the default key policy of `account`; another request its
 * `resourcePolicy`, if any. Throws on an invalid request.
 */
export async function decideAs(
  principalArn: string, policies: Array<{ name: string; policy: PolicyDocument }>, request: IamRequest,
  keys: ReadonlyMap<string, PolicyDocument>, account: string,
): Promise<IamDecision> {
  const resourceAccount = /^arn:[^:]+:[^:]+:[^:]*:(\d{12}):/.exec(request.resource)?.[1] ?? account;
  const simulation: Simulation = {
    identityPolicies: policies.map((p) => ({ name: p.name, policy: p.policy as any })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(request.action.startsWith('kms:') ? { resourcePolicy: (keys.get(request.resource) ?? defaultKeyPolicy(resourceAccount)) as any } : {}),
    ...(request.resourcePolicy ? { resourcePolicy: request.resourcePolicy as any } : {}),
    request: {
      action: request.action,
      principal: principalArn,
      resource: { resource: request.resource, accountId: resourceAccount },
      contextVariables: contextOf(request),
    },
  };
  const result = await runSimulation(simulation, {});
  if (result.resultType === 'error') {
    throw new Error(`IAM simulation of ${request.action} on ${request.resource} is invalid: ${JSON.stringify(result.errors)}`);
  }
  return result.overallResult as IamDecision;
}
