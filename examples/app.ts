/**
 * The examples as a CDK app, for `npx cdk synth` in this folder (cdk.json runs this file): example (a) by
 * default, `-c example=cross-region-with-users`, `every-prop`, `with-cdk-nag` or `cross-account` for the others. The CDK CLI writes
 * the cloud assembly to examples/cdk.out/.
 *
 * In your own app, import the package and call an example's `build(app)` (or copy its stack) the same way.
 */
import './in-repo';
import { App, Stack } from 'aws-cdk-lib';

const EXAMPLES = ['same-region-defaults', 'cross-region-with-users', 'every-prop', 'with-cdk-nag', 'cross-account'];

const app = new App();
const example = app.node.tryGetContext('example') ?? 'same-region-defaults';
if (!EXAMPLES.includes(example)) {
  throw new Error(`Unknown example "${example}": pass -c example=<name> with one of ${EXAMPLES.join(', ')}.`);
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { build } = require(`./${example}`) as { build: (app: App) => Stack[] };
build(app);
app.synth();
