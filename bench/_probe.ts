import '../test/setup/polyfills';
import { FakeAws } from './support/fake-aws';
import { PipelineTimeline } from './support/timeline';
import { realNow, VirtualClock } from './support/virtual-clock';
import { pipelineStack } from '../test/e2e/support/stacks';
async function main() {
  for (const m of ['log', 'info', 'warn', 'error', 'debug'] as const) console[m] = () => undefined;
  const clock = new VirtualClock(new Date('2026-12-01T00:00:00Z'));
  clock.install();
  const fake = new FakeAws(clock, { copySeconds: 0, restoreSeconds: 0, passwordResetSeconds: 60 }, 'eu-west-1');
  const endpoint = await fake.start();
  const eta = PipelineTimeline.fromStack(pipelineStack({}, { stackName: 'Eta' }).stack, fake, clock, endpoint);
  let t0 = realNow();
  let r = await eta.run({ durations: { copySeconds: 3600, restoreSeconds: 7200, passwordResetSeconds: 60 }, name: 'a' });
  process.stdout.write(`run ${realNow() - t0} ms transitions ${r.transitions} rds ${r.rdsCalls.length} ${r.status}\n`);
  t0 = realNow();
  r = await eta.run({ durations: { copySeconds: 3600, restoreSeconds: 7200, passwordResetSeconds: 60 }, name: 'b' });
  process.stdout.write(`run ${realNow() - t0} ms transitions ${r.transitions} rds ${r.rdsCalls.length} ${r.status} ${(eta as any).handlerMs}\n`);
  await fake.stop(); clock.uninstall();
}
main();
