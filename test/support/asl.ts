/*
 * The state machines of a template as plain Amazon States Language, and what runs in their Task states.
 */
import type { TemplateResolver } from './template';

/** An ASL state (only the fields the harness reads are typed). */
export interface AslState {
  readonly Type: string;
  readonly Resource?: string;
  readonly Parameters?: Record<string, unknown>;
  readonly Retry?: Array<{ ErrorEquals: string[]; [k: string]: unknown }>;
  readonly Catch?: Array<{ ErrorEquals: string[]; Next: string; ResultPath?: string }>;
  readonly Branches?: AslDefinition[];
  readonly Iterator?: AslDefinition;
  readonly ItemProcessor?: AslDefinition;
  readonly [key: string]: unknown;
}

/** An ASL definition. */
export interface AslDefinition {
  readonly StartAt: string;
  readonly States: Record<string, AslState>;
  readonly TimeoutSeconds?: number;
  readonly Comment?: string;
  readonly QueryLanguage?: string;
  readonly [key: string]: unknown;
}

/** A state machine of the template, rendered. */
export interface RenderedStateMachine {
  readonly logicalId: string;
  readonly arn: string;
  readonly name: string;
  readonly definition: AslDefinition;
}

/**
 * Every `AWS::StepFunctions::StateMachine` of the template with its definition rendered to plain ASL:
 * `DefinitionString` (CDK's `Fn::Join`) or `Definition` resolved, then `DefinitionSubstitutions` applied.
 */
export function renderStateMachines(resolver: TemplateResolver): RenderedStateMachine[] {
  return Object.entries(resolver.template.Resources)
    .filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine')
    .map(([logicalId, r]) => {
      const props = r.Properties ?? {};
      let text: string;
      if (props.DefinitionString !== undefined) {
        text = resolver.resolveString(props.DefinitionString, `${logicalId}.DefinitionString`);
      } else if (props.Definition !== undefined) {
        text = JSON.stringify(resolver.resolve(props.Definition));
      } else {
        throw new Error(`State machine ${logicalId} has neither DefinitionString nor Definition (DefinitionS3Location is not supported)`);
      }
      const subs = resolver.resolve<Record<string, unknown>>(props.DefinitionSubstitutions ?? {});
      for (const [k, v] of Object.entries(subs)) {
        text = text.split(`\${${k}}`).join(typeof v === 'string' ? v : JSON.stringify(v));
      }
      const p = resolver.physical(logicalId);
      return { logicalId, arn: p.ref, name: String(p.attributes.Name), definition: JSON.parse(text) as AslDefinition };
    });
}

/** The one state machine of the template (throws when there is not exactly one). */
export function renderStateMachine(resolver: TemplateResolver): RenderedStateMachine {
  const all = renderStateMachines(resolver);
  if (all.length !== 1) throw new Error(`Expected one state machine in the template, found ${all.length}: ${all.map((s) => s.logicalId).join(', ')}`);
  return all[0];
}

/** Every state with its name, including those inside Parallel branches and Map processors. */
export function allStates(definition: AslDefinition): Array<[string, AslState]> {
  const out: Array<[string, AslState]> = [];
  for (const [name, state] of Object.entries(definition.States)) {
    out.push([name, state]);
    for (const branch of state.Branches ?? []) out.push(...allStates(branch));
    if (state.Iterator) out.push(...allStates(state.Iterator));
    if (state.ItemProcessor) out.push(...allStates(state.ItemProcessor));
  }
  return out;
}

/** How a Task state calls Lambda. */
export interface LambdaTask {
  readonly stateName: string;
  /** `integration`: `arn:aws:states:::lambda:invoke` with Parameters.FunctionName; `direct`: the function ARN as Resource. */
  readonly style: 'integration' | 'direct';
  /** The function's name or ARN as the definition gives it (without a qualifier). */
  readonly functionRef: string;
}

const LAMBDA_INVOKE = /^arn:[^:]+:states:::lambda:invoke$/;
const FUNCTION_ARN = /^arn:[^:]+:lambda:[^:]+:\d+:function:([^:]+)(:[^:]+)?$/;

/** Strips a version/alias qualifier from a function ARN. */
export function unqualifiedFunctionArn(ref: string): string {
  const m = FUNCTION_ARN.exec(ref);
  return m && m[2] ? ref.slice(0, ref.length - m[2].length) : ref;
}

/** The Task states that invoke a Lambda function. Other Task states (SDK integrations) throw, naming the state. */
export function lambdaTasks(definition: AslDefinition): LambdaTask[] {
  return allStates(definition)
    .filter(([, s]) => s.Type === 'Task')
    .map(([stateName, s]) => {
      const resource = String(s.Resource ?? '');
      if (LAMBDA_INVOKE.test(resource)) {
        const fn = s.Parameters?.FunctionName;
        if (typeof fn !== 'string') {
          throw new Error(`Task ${stateName} invokes Lambda with FunctionName ${JSON.stringify(fn)}; the harness needs a literal name or ARN`);
        }
        return { stateName, style: 'integration' as const, functionRef: unqualifiedFunctionArn(fn) };
      }
      if (FUNCTION_ARN.test(resource)) return { stateName, style: 'direct' as const, functionRef: unqualifiedFunctionArn(resource) };
      throw new Error(`Task ${stateName} has Resource ${resource}, which the e2e harness cannot run locally`);
    });
}

/**
 * The definition as aws-local-stepfunctions 3.0.0 must see it to run it the way Step Functions does.
 *
 * That version applies `ResultPath: "$"` by writing the result under a key named `$` instead of replacing
 * the state (lodash `set` with the path `$`). The ASL default for a missing ResultPath is `$`, so removing
 * an explicit `"$"` (on states and on catchers) keeps the meaning and sidesteps the bug. Nothing else changes.
 */
export function forLocalRun(definition: AslDefinition): AslDefinition {
  const fix = (def: AslDefinition): AslDefinition => ({
    ...def,
    States: Object.fromEntries(Object.entries(def.States).map(([name, state]) => {
      const out: Record<string, unknown> = { ...state };
      if (out.ResultPath === '$') delete out.ResultPath;
      if (state.Catch) {
        out.Catch = state.Catch.map((c) => {
          const copy: Record<string, unknown> = { ...c };
          if (copy.ResultPath === '$') delete copy.ResultPath;
          return copy;
        });
      }
      if (state.Branches) out.Branches = state.Branches.map(fix);
      if (state.Iterator) out.Iterator = fix(state.Iterator);
      if (state.ItemProcessor) out.ItemProcessor = fix(state.ItemProcessor);
      return [name, out as AslState];
    })),
  });
  return fix(definition);
}

/**
 * Mistakes in a definition that validators accept but that break a run. Now: a Task whose `Parameters` is
 * not an object, which CDK renders for `LambdaInvoke({ payloadResponseOnly: true, payload:
 * TaskInput.fromJsonPathAt(...) })`; Step Functions then passes the path itself, as a string, to the
 * function (aws/aws-cdk#22390, #34260).
 */
export function definitionProblems(definition: AslDefinition): string[] {
  return allStates(definition)
    .filter(([, s]) => s.Type === 'Task' && s.Parameters !== undefined && (typeof s.Parameters !== 'object' || s.Parameters === null))
    .map(([name, s]) => `Task ${name} has Parameters ${JSON.stringify(s.Parameters)}, not an object: its function receives that literal `
      + 'instead of the state. With payloadResponseOnly, leave `payload` out to pass the whole state.');
}

/** Names of the Wait states. */
export function waitStates(definition: AslDefinition): string[] {
  return allStates(definition).filter(([, s]) => s.Type === 'Wait').map(([n]) => n);
}

/** Names of the states that have a Retry. */
export function retryingStates(definition: AslDefinition): string[] {
  return allStates(definition).filter(([, s]) => (s.Retry?.length ?? 0) > 0).map(([n]) => n);
}
