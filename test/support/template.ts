/*
 * Turns a synthesized CloudFormation template (`Template.fromStack(stack).toJSON()`) into plain values:
 * a small resolver of the intrinsic functions CDK emits, with fake-but-consistent physical names and ARNs
 * per logical id, plus readers of the Lambda functions and state machines it defines.
 *
 * The physical ids of resources created for real (in moto) are fed back with `setPhysical`, so the
 * rendered state machine and environment variables name what exists.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { CfnResource, Stack } from 'aws-cdk-lib';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import type { IConstruct } from 'constructs';

/** A CloudFormation template as JSON. */
export interface CfnTemplate {
  readonly Resources: Record<string, CfnResourceJson>;
  readonly Parameters?: Record<string, { Type: string; Default?: unknown }>;
  readonly Conditions?: Record<string, unknown>;
  readonly Mappings?: Record<string, Record<string, Record<string, unknown>>>;
  readonly Outputs?: Record<string, unknown>;
  readonly [key: string]: unknown;
}

/** One resource of a template. */
export interface CfnResourceJson {
  readonly Type: string;
  readonly Properties?: Record<string, any>;
  readonly Metadata?: Record<string, unknown>;
  readonly Condition?: string;
  readonly [key: string]: unknown;
}

/** What `Ref` and `Fn::GetAtt` return for one logical id. */
export interface PhysicalResource {
  /** The value of `{ Ref: logicalId }`. */
  readonly ref: string;
  /** The values of `{ 'Fn::GetAtt': [logicalId, name] }`. */
  readonly attributes: Record<string, unknown>;
}

/** Options of {@link TemplateResolver}. */
export interface TemplateResolverOptions {
  /** The stack's region. */
  readonly region: string;
  /** The stack's account. Default `123456789012` (moto's). */
  readonly account?: string;
  /** The stack's name, used in generated physical names. Default `E2E`. */
  readonly stackName?: string;
  /** Values of template parameters; a parameter without one resolves to its Default. */
  readonly parameters?: Record<string, unknown>;
}

/** moto's default account. */
export const DEFAULT_ACCOUNT = '123456789012';

const NO_VALUE = Symbol('AWS::NoValue');

function shortHash(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/**
 * Resolves `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`, `Fn::Select`, `Fn::Split`, `Fn::If` (with the
 * template's Conditions), `Fn::FindInMap`, `Fn::GetAZs` and `Fn::Base64`, and the pseudo parameters.
 * Anything else (e.g. `Fn::ImportValue`) throws, naming it.
 */
export class TemplateResolver {
  readonly region: string;
  readonly account: string;
  readonly stackName: string;
  private readonly physicals = new Map<string, PhysicalResource>();
  private readonly conditions = new Map<string, boolean>();

  constructor(readonly template: CfnTemplate, private readonly options: TemplateResolverOptions) {
    this.region = options.region;
    this.account = options.account ?? DEFAULT_ACCOUNT;
    this.stackName = options.stackName ?? 'E2E';
  }

  /** Records the real physical id of a resource (one created in moto), replacing the generated one. */
  setPhysical(logicalId: string, physical: PhysicalResource): void {
    this.resource(logicalId);
    this.physicals.set(logicalId, physical);
  }

  /** `Ref` and attributes of a logical id: the recorded ones, else generated from its type and properties. */
  physical(logicalId: string): PhysicalResource {
    let found = this.physicals.get(logicalId);
    if (!found) {
      found = this.generate(logicalId);
      this.physicals.set(logicalId, found);
    }
    return found;
  }

  /** The logical id whose `Ref` or one of whose attributes equals `value` (e.g. a function ARN), if any. */
  logicalIdOf(value: string, type?: string): string | undefined {
    for (const [id, res] of Object.entries(this.template.Resources)) {
      if (type && res.Type !== type) continue;
      const p = this.physical(id);
      if (p.ref === value || Object.values(p.attributes).includes(value)) return id;
    }
    return undefined;
  }

  /** Resolves every intrinsic function in `value`. */
  resolve<T = any>(value: unknown): T {
    const out = this.resolveValue(value, '$');
    return (out === NO_VALUE ? undefined : out) as T;
  }

  /** Resolves `value` and checks that it is a string. */
  resolveString(value: unknown, where = 'value'): string {
    const out = this.resolve(value);
    if (typeof out !== 'string') throw new Error(`${where} resolved to ${JSON.stringify(out)}, not a string`);
    return out;
  }

  private resource(logicalId: string): CfnResourceJson {
    const res = this.template.Resources[logicalId];
    if (!res) throw new Error(`The template has no resource ${logicalId}`);
    return res;
  }

  private resolveValue(value: unknown, at: string): unknown {
    if (Array.isArray(value)) {
      return value.map((v, i) => this.resolveValue(v, `${at}[${i}]`)).filter((v) => v !== NO_VALUE);
    }
    if (value === null || typeof value !== 'object') return value;
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::') || keys[0] === 'Condition')) {
      return this.intrinsic(keys[0], obj[keys[0]], at);
    }
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      const v = this.resolveValue(obj[k], `${at}.${k}`);
      if (v !== NO_VALUE) out[k] = v;
    }
    return out;
  }

  private intrinsic(fn: string, arg: any, at: string): unknown {
    const r = (v: unknown) => this.resolveValue(v, at);
    switch (fn) {
      case 'Ref':
        return this.ref(arg, at);
      case 'Fn::GetAtt': {
        const [id, ...attrPath] = Array.isArray(arg) ? arg : String(arg).split('.');
        return this.getAtt(String(r(id)), attrPath.map((a) => String(r(a))).join('.'), at);
      }
      case 'Fn::Join': {
        const [sep, parts] = arg;
        const list = r(parts);
        if (!Array.isArray(list)) throw new Error(`Fn::Join at ${at}: the list resolved to ${JSON.stringify(list)}`);
        return list.map((p) => this.asString(p, `Fn::Join at ${at}`)).join(sep);
      }
      case 'Fn::Sub':
        return this.sub(arg, at);
      case 'Fn::Select': {
        const [index, list] = [Number(r(arg[0])), r(arg[1])];
        if (!Array.isArray(list) || index < 0 || index >= list.length) {
          throw new Error(`Fn::Select at ${at}: index ${index} of ${JSON.stringify(list)}`);
        }
        return list[index];
      }
      case 'Fn::Split': {
        const [sep, source] = [String(arg[0]), r(arg[1])];
        return this.asString(source, `Fn::Split at ${at}`).split(sep);
      }
      case 'Fn::If': {
        const [cond, yes, no] = arg;
        return this.condition(cond) ? r(yes) : r(no);
      }
      case 'Condition':
        return this.condition(arg);
      case 'Fn::Equals':
        return JSON.stringify(r(arg[0])) === JSON.stringify(r(arg[1]));
      case 'Fn::Not':
        return !this.truthy(r(arg[0]));
      case 'Fn::And':
        return (arg as unknown[]).every((c) => this.truthy(r(c)));
      case 'Fn::Or':
        return (arg as unknown[]).some((c) => this.truthy(r(c)));
      case 'Fn::FindInMap': {
        const [map, top, second] = (arg as unknown[]).map((a) => String(r(a)));
        const found = this.template.Mappings?.[map]?.[top]?.[second];
        if (found === undefined) throw new Error(`Fn::FindInMap at ${at}: no ${map}.${top}.${second}`);
        return found;
      }
      case 'Fn::GetAZs':
        return ['a', 'b', 'c'].map((s) => `${this.region}${s}`);
      case 'Fn::Base64':
        return Buffer.from(this.asString(r(arg), `Fn::Base64 at ${at}`)).toString('base64');
      default:
        throw new Error(`Unsupported intrinsic ${fn} at ${at}: the e2e resolver handles Ref, Fn::GetAtt, Fn::Join, `
          + 'Fn::Sub, Fn::Select, Fn::Split, Fn::If, Fn::FindInMap, Fn::GetAZs and Fn::Base64. Extend test/support/template.ts.');
    }
  }

  private truthy(v: unknown): boolean {
    return v === true || v === 'true';
  }

  private condition(name: string): boolean {
    let v = this.conditions.get(name);
    if (v === undefined) {
      const def = this.template.Conditions?.[name];
      if (def === undefined) throw new Error(`The template has no condition ${name}`);
      v = this.truthy(this.resolveValue(def, `Conditions.${name}`));
      this.conditions.set(name, v);
    }
    return v;
  }

  private asString(v: unknown, where: string): string {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new Error(`${where}: expected a string, got ${JSON.stringify(v)}`);
  }

  private pseudo(name: string): unknown {
    switch (name) {
      case 'AWS::Region': return this.region;
      case 'AWS::AccountId': return this.account;
      case 'AWS::Partition': return 'aws';
      case 'AWS::URLSuffix': return 'amazonaws.com';
      case 'AWS::StackName': return this.stackName;
      case 'AWS::StackId': return `arn:aws:cloudformation:${this.region}:${this.account}:stack/${this.stackName}/${shortHash(this.stackName, 8)}-0000-4000-8000-000000000000`;
      case 'AWS::NoValue': return NO_VALUE;
      case 'AWS::NotificationARNs': return [];
      default: return undefined;
    }
  }

  private ref(name: string, at: string): unknown {
    const pseudo = this.pseudo(name);
    if (pseudo !== undefined) return pseudo;
    const param = this.template.Parameters?.[name];
    if (param) {
      if (this.options.parameters && name in this.options.parameters) return this.options.parameters[name];
      if (param.Default !== undefined) return param.Default;
      throw new Error(`Ref ${name} at ${at}: parameter without a default; pass it in options.parameters`);
    }
    if (!this.template.Resources[name]) throw new Error(`Ref ${name} at ${at}: no such resource, parameter or pseudo parameter`);
    return this.physical(name).ref;
  }

  private getAtt(logicalId: string, attr: string, at: string): unknown {
    const res = this.resource(logicalId);
    const p = this.physical(logicalId);
    if (!(attr in p.attributes)) {
      throw new Error(`Fn::GetAtt ${logicalId}.${attr} at ${at}: the e2e resolver knows no attribute ${attr} of ${res.Type} `
        + `(known: ${Object.keys(p.attributes).join(', ') || 'none'}). Extend generate() in test/support/template.ts.`);
    }
    return p.attributes[attr];
  }

  private sub(arg: unknown, at: string): string {
    const [text, vars] = Array.isArray(arg) ? [arg[0] as string, (arg[1] ?? {}) as Record<string, unknown>] : [arg as string, {}];
    return text.replace(/\$\{(!?)([^}]+)\}/g, (whole, bang: string, name: string) => {
      if (bang) return `\${${name}}`;
      if (name in vars) return this.asString(this.resolveValue(vars[name], at), `Fn::Sub variable ${name} at ${at}`);
      if (name.includes('.') && !name.startsWith('AWS::')) {
        const dot = name.indexOf('.');
        return this.asString(this.getAtt(name.slice(0, dot), name.slice(dot + 1), at), `Fn::Sub ${whole} at ${at}`);
      }
      return this.asString(this.ref(name, at), `Fn::Sub ${whole} at ${at}`);
    });
  }

  /** A physical name in CloudFormation's style: `<stack>-<logical id>-<suffix>`, at most `max` characters. */
  private generatedName(logicalId: string, max = 64, lower = false): string {
    const suffix = shortHash(`${this.stackName}/${logicalId}`, 12).toUpperCase();
    const name = `${`${this.stackName}-${logicalId}`.slice(0, max - suffix.length - 1)}-${suffix}`;
    return lower ? name.toLowerCase() : name;
  }

  private named(logicalId: string, prop: string | undefined, max = 64, lower = false): string {
    const props = this.template.Resources[logicalId].Properties ?? {};
    if (prop && props[prop] !== undefined) return this.resolveString(props[prop], `${logicalId}.${prop}`);
    return this.generatedName(logicalId, max, lower);
  }

  private generate(logicalId: string): PhysicalResource {
    const res = this.resource(logicalId);
    const { region, account } = this;
    const hex = (n: number) => shortHash(`${this.stackName}/${logicalId}`, n);
    const uuid = () => {
      const h = hex(32);
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
    };
    switch (res.Type) {
      case 'AWS::DynamoDB::Table':
      case 'AWS::DynamoDB::GlobalTable': {
        const name = this.named(logicalId, 'TableName', 255);
        const arn = `arn:aws:dynamodb:${region}:${account}:table/${name}`;
        return { ref: name, attributes: { Arn: arn, StreamArn: `${arn}/stream/2026-01-01T00:00:00.000`, TableId: uuid() } };
      }
      case 'AWS::SNS::Topic': {
        const name = this.named(logicalId, 'TopicName', 256);
        const arn = `arn:aws:sns:${region}:${account}:${name}`;
        return { ref: arn, attributes: { TopicArn: arn, TopicName: name } };
      }
      case 'AWS::SQS::Queue': {
        const name = this.named(logicalId, 'QueueName', 80);
        return {
          ref: `https://sqs.${region}.amazonaws.com/${account}/${name}`,
          attributes: { Arn: `arn:aws:sqs:${region}:${account}:${name}`, QueueName: name, QueueUrl: `https://sqs.${region}.amazonaws.com/${account}/${name}` },
        };
      }
      case 'AWS::KMS::Key': {
        const id = uuid();
        return { ref: id, attributes: { Arn: `arn:aws:kms:${region}:${account}:key/${id}`, KeyId: id } };
      }
      case 'AWS::KMS::Alias':
        return { ref: this.named(logicalId, 'AliasName'), attributes: {} };
      case 'AWS::SecretsManager::Secret': {
        const name = this.named(logicalId, 'Name', 512);
        const arn = `arn:aws:secretsmanager:${region}:${account}:secret:${name}-${hex(6)}`;
        return { ref: arn, attributes: { Id: arn } };
      }
      case 'AWS::SecretsManager::SecretTargetAttachment': {
        const secretRef = this.resolve(res.Properties?.SecretId);
        return { ref: String(secretRef), attributes: {} };
      }
      case 'AWS::Lambda::Function': {
        const name = this.named(logicalId, 'FunctionName', 64);
        return { ref: name, attributes: { Arn: `arn:aws:lambda:${region}:${account}:function:${name}` } };
      }
      case 'AWS::IAM::Role': {
        const name = this.named(logicalId, 'RoleName', 64);
        return { ref: name, attributes: { Arn: `arn:aws:iam::${account}:role/${name}`, RoleId: `AROA${hex(17).toUpperCase()}` } };
      }
      case 'AWS::IAM::Policy':
        return { ref: this.named(logicalId, 'PolicyName', 128), attributes: {} };
      case 'AWS::IAM::ManagedPolicy': {
        const name = this.named(logicalId, 'ManagedPolicyName', 128);
        return { ref: `arn:aws:iam::${account}:policy/${name}`, attributes: { PolicyArn: `arn:aws:iam::${account}:policy/${name}` } };
      }
      case 'AWS::StepFunctions::StateMachine': {
        const name = this.named(logicalId, 'StateMachineName', 80);
        const arn = `arn:aws:states:${region}:${account}:stateMachine:${name}`;
        return { ref: arn, attributes: { Arn: arn, Name: name, StateMachineRevisionId: arn } };
      }
      case 'AWS::Logs::LogGroup': {
        const name = this.named(logicalId, 'LogGroupName', 512);
        return { ref: name, attributes: { Arn: `arn:aws:logs:${region}:${account}:log-group:${name}:*` } };
      }
      case 'AWS::CloudWatch::Alarm': {
        const name = this.named(logicalId, 'AlarmName', 255);
        return { ref: name, attributes: { Arn: `arn:aws:cloudwatch:${region}:${account}:alarm:${name}` } };
      }
      case 'AWS::Events::Rule': {
        const name = this.named(logicalId, 'Name', 64);
        return { ref: name, attributes: { Arn: `arn:aws:events:${region}:${account}:rule/${name}` } };
      }
      case 'AWS::EC2::VPC': {
        const id = `vpc-${hex(17)}`;
        return {
          ref: id,
          attributes: {
            VpcId: id,
            CidrBlock: this.resolve(res.Properties?.CidrBlock) ?? '10.0.0.0/16',
            DefaultSecurityGroup: `sg-${shortHash(`${logicalId}/default-sg`, 17)}`,
            CidrBlockAssociations: [],
            Ipv6CidrBlocks: [],
          },
        };
      }
      case 'AWS::EC2::Subnet': {
        const id = `subnet-${hex(17)}`;
        return { ref: id, attributes: { SubnetId: id, AvailabilityZone: this.resolve(res.Properties?.AvailabilityZone) ?? `${region}a` } };
      }
      case 'AWS::EC2::SecurityGroup': {
        const id = `sg-${hex(17)}`;
        return { ref: id, attributes: { GroupId: id, VpcId: this.resolve(res.Properties?.VpcId) } };
      }
      case 'AWS::RDS::DBSubnetGroup':
        return { ref: this.named(logicalId, 'DBSubnetGroupName', 255, true), attributes: {} };
      case 'AWS::RDS::DBClusterParameterGroup':
        return { ref: this.named(logicalId, 'DBClusterParameterGroupName', 255, true), attributes: {} };
      default:
        return { ref: this.generatedName(logicalId), attributes: {} };
    }
  }
}

/** A Lambda function of the template, with its environment resolved to plain strings. */
export interface TemplateFunction {
  readonly logicalId: string;
  readonly functionName: string;
  readonly arn: string;
  readonly handler: string;
  readonly runtime: string;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
  /** `Code.S3Key`, `<asset hash>.zip` for an asset. */
  readonly s3Key?: string;
  readonly environment: Record<string, string>;
}

/** Every `AWS::Lambda::Function` of the template, resolved. */
export function templateFunctions(resolver: TemplateResolver): TemplateFunction[] {
  return Object.entries(resolver.template.Resources)
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
    .map(([logicalId, r]) => {
      const props = r.Properties ?? {};
      const p = resolver.physical(logicalId);
      const vars = resolver.resolve<Record<string, unknown>>(props.Environment?.Variables ?? {});
      const environment: Record<string, string> = {};
      for (const [k, v] of Object.entries(vars)) {
        if (typeof v !== 'string') throw new Error(`Environment variable ${k} of ${logicalId} resolved to ${JSON.stringify(v)}, not a string`);
        environment[k] = v;
      }
      const s3Key = props.Code?.S3Key === undefined ? undefined : resolver.resolveString(props.Code.S3Key, `${logicalId}.Code.S3Key`);
      return {
        logicalId,
        functionName: p.ref,
        arn: String(p.attributes.Arn),
        handler: String(props.Handler ?? 'index.handler'),
        runtime: String(props.Runtime ?? ''),
        timeoutSeconds: Number(props.Timeout ?? 3),
        memorySize: Number(props.MemorySize ?? 128),
        s3Key,
        environment,
      };
    });
}

/**
 * The source folder of each Lambda function's code asset, by logical id, read from the construct tree
 * (the `Asset` that `Code.fromAsset` adds under the function, and its staging's `sourcePath`) and checked
 * against the template's `Code.S3Key` (`<asset hash>.zip`).
 *
 * The template alone does not tell: `aws:asset:path` metadata is off outside the CDK CLI and names the
 * staged copy, not the source.
 */
export function functionAssetSources(stack: Stack, template: CfnTemplate): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (c: IConstruct) => {
    if (CfnResource.isCfnResource(c) && c.cfnResourceType === 'AWS::Lambda::Function') {
      const logicalId = stack.resolve(c.logicalId) as string;
      const fn = c.node.scope as IConstruct;
      const asset = fn.node.children.find((child): child is Asset => child instanceof Asset);
      if (asset) {
        const expectedKey = template.Resources[logicalId]?.Properties?.Code?.S3Key;
        if (typeof expectedKey !== 'string' || !expectedKey.includes(asset.assetHash)) {
          throw new Error(`The code asset of ${logicalId} (${asset.assetHash}) does not match the template's S3Key ${JSON.stringify(expectedKey)}`);
        }
        const staging = asset.node.tryFindChild('Stage') as { sourcePath?: string } | undefined;
        if (!staging?.sourcePath) throw new Error(`The code asset of ${logicalId} has no staging with a sourcePath`);
        out[logicalId] = path.resolve(staging.sourcePath);
      }
    }
    c.node.children.forEach(visit);
  };
  visit(stack);
  return out;
}
