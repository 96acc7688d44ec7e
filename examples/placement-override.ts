/**
 * The package as the examples see it under `examples/synth.ts`: everything from `src/`, with the handler placement
 * of every `AuroraRestorePipeline` replaced when `override.handlerPlacement` is set, so that each example is
 * checked in both placements. Not an example itself.
 */
import type { Construct } from 'constructs';
import * as pkg from '../src';

export * from '../src';

/** The placement every pipeline gets while it is set; the example's own when not. */
export const override: { handlerPlacement?: pkg.HandlerPlacement } = {};

/** `AuroraRestorePipeline`, with `override.handlerPlacement` applied. */
export class AuroraRestorePipeline extends pkg.AuroraRestorePipeline {
  constructor(scope: Construct, id: string, props: pkg.AuroraRestorePipelineProps) {
    super(scope, id, { ...props, handlerPlacement: override.handlerPlacement ?? props.handlerPlacement });
  }
}
