import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: files run in parallel, each against its own nodes, ports and databases.
    pool: 'forks',
    maxWorkers: 2,
    // Each worker runs its files one after another in one process, instead of a new process
    // importing the server afresh for each: measured over the whole suite, ~100 s less node CPU
    // (347 -> 245 s). Safe because the server keeps no state at module level (createServer
    // makes all of it) and every test starts and stops its own nodes; test/fuzz-kit.ts empties
    // its shared error list after each test, and test/helpers.ts makes prom-client's default
    // metrics once per process (they cannot be stopped: a GC observer and an event-loop
    // histogram, about 1-5% of a core per 300 nodes when each node made its own). A third
    // worker was slower: the suite already keeps the two cores busy.
    isolate: false,
  },
});
