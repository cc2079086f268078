/**
 * Once per test run (and again on each rerun in watch mode): bundle the node
 * as `npm start` does, so the tests that start nodes as processes run the
 * program `npm start` runs, built from the sources under test. In CI, first
 * checks that the programs some tests need are there.
 */
import type { TestProject } from 'vitest/node';
import { bundleServer } from '../server/build.js';
import { missingInCi } from './fixtures/tools.js';

export default async function setup(project: TestProject): Promise<void> {
  const missing = missingInCi();
  if (missing.length > 0) throw new Error(`CI is set and ${missing.join(' and ')} missing: their tests would be skipped (.ci/run installs them)`);
  await bundleServer();
  project.onTestsRerun(() => bundleServer());
}
