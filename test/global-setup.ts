/**
 * Once per test run (and again on each rerun in watch mode): bundle the node
 * as `npm start` does, so the tests that start nodes as processes run the
 * program `npm start` runs, built from the sources under test.
 */
import type { TestProject } from 'vitest/node';
import { bundleServer } from '../server/build.js';

export default async function setup(project: TestProject): Promise<void> {
  await bundleServer();
  project.onTestsRerun(() => bundleServer());
}
