import { defineConfig } from 'vitest/config';

/**
 * Tests whose assertions are about time at the scale of tens of milliseconds (the send governor's
 * one-second windows, measured at the simulator): they run after every other test file, alone, so
 * that the rest of the suite cannot starve them of CPU and make arrival jitter look like a breach.
 */
const TIMING_TESTS = 'test/**/*.timing.test.ts';

const timeouts = { testTimeout: 30_000, hookTimeout: 60_000 };

export default defineConfig({
  test: {
    // Once for the whole run (projects do not extend the root config, or each would start its own).
    globalSetup: ['test/global-setup.ts'],
    projects: [
      { test: { ...timeouts, name: 'suite', include: ['test/**/*.test.ts'], exclude: [TIMING_TESTS], sequence: { groupOrder: 0 } } },
      { test: { ...timeouts, name: 'timing', include: [TIMING_TESTS], fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
