import type { Reporter, SerializedError, TestCase, TestModule } from 'vitest/node';

/**
 * Ends the run with one plain line, `N passed, N failed, N skipped`, so that anything reading
 * the log (CI among them) can count the tests without knowing vitest's own summary format.
 * A test that never ran because its suite failed (a `beforeAll` that threw) counts as failed,
 * not skipped: only `skip`, `todo` and `skipIf` make a test skipped.
 */
export class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const testModule of testModules) {
      for (const test of testModule.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed' || inFailedSuite(test)) failed++;
        else skipped++;
      }
      if (testModule.state() === 'failed' && testModule.children.size === 0) failed++;
    }
    const errors = unhandledErrors.length > 0 ? `, ${unhandledErrors.length} unhandled errors` : '';
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped${errors}\n`);
  }
}

function inFailedSuite(test: TestCase): boolean {
  if (test.options.mode === 'skip' || test.options.mode === 'todo') return false;
  for (let parent = test.parent; ; parent = parent.parent) {
    if (parent.state() === 'failed') return true;
    if (parent.type === 'module') return false;
  }
}
