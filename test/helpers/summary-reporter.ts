/**
 * Prints one plain closing line, "N passed, N failed, N skipped", that CI
 * reads as the run's test count whatever the runner's own format.
 *
 * A file that failed outside any test (a beforeAll hook, an import, a syntax
 * error) counts as one failure even when all its tests were skipped because
 * of it, and so does each unhandled error: "0 failed" must mean nothing failed.
 */
import type { Reporter, SerializedError, TestModule, TestRunEndReason } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError> = [],
    _reason?: TestRunEndReason): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const m of modules) {
      let failedHere = 0;
      for (const t of m.children.allTests()) {
        const s = t.result().state;
        if (s === 'passed') passed++;
        else if (s === 'failed') failedHere++;
        else skipped++;
      }
      if (failedHere === 0 && (m.state() === 'failed' || m.errors().length > 0)) failedHere = 1;
      failed += failedHere;
    }
    failed += unhandledErrors.length;
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
