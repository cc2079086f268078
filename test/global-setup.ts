/**
 * Once before every test file: bundle the node (`npm run build:server`, what
 * `npm start` runs first), so the tests that start nodes as processes run the
 * program `npm start` runs, built from the sources under test.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export default function setup(): void {
  execFileSync('npm', ['run', '-s', 'build:server'], { cwd: join(import.meta.dirname, '..'), stdio: 'inherit' });
}
