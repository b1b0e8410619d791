/**
 * A second Keyhold process for integration tests, run with `node --import tsx`.
 *
 *   vault-child.ts probe <vault>   unlock once, print {"ok":true} or {"code":...}, exit
 *   vault-child.ts hold <vault>    unlock, print {"ready":true}, keep the vault open until
 *                                  "close" arrives on stdin (or stdin ends), print {"closed":true}
 *   vault-child.ts churn <vault> <prefix>
 *                                  unlock, print {"ready":true}, then create keys (names start
 *                                  with <prefix>) forever, one transaction at a time, printing
 *                                  {"committed":n} after each
 *
 * The passphrase comes from KEYHOLD_TEST_PASSPHRASE and is never printed.
 * Every line on stdout is one JSON object.
 */
import { createInterface } from 'node:readline';
import { createKeys } from '../../../electron/core/keys/keys.js';
import { KeyholdService } from '../../../electron/core/service.js';
import { isKeyholdError } from '../../../shared/errors.js';

const [mode, vaultPath, prefix = 'k'] = process.argv.slice(2);
const passphrase = process.env.KEYHOLD_TEST_PASSPHRASE ?? '';

function emit(obj: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function codeOf(e: unknown): string {
  return isKeyholdError(e) ? e.code : 'INTERNAL';
}

async function main(): Promise<void> {
  if (!vaultPath || !passphrase) throw new Error('usage: vault-child.ts probe|hold|churn <vault> (passphrase in env)');
  const svc = new KeyholdService();
  try {
    await svc.call('vault.unlock', { path: vaultPath, passphrase });
  } catch (e) {
    emit({ code: codeOf(e) });
    return;
  }
  if (mode === 'probe') {
    svc.close();
    emit({ ok: true });
    return;
  }
  if (mode === 'hold') {
    emit({ ready: true });
    const rl = createInterface({ input: process.stdin });
    await new Promise<void>((resolve) => {
      rl.on('line', (line) => {
        if (line.trim() === 'close') resolve();
      });
      rl.on('close', () => resolve());
    });
    rl.close();
    svc.close();
    emit({ closed: true });
    return;
  }
  if (mode === 'churn') {
    emit({ ready: true });
    let committed = 0;
    const deadline = Date.now() + 60_000; // never outlive a forgotten test
    for (let i = 0; Date.now() < deadline; i++) {
      if (i % 3 === 2) {
        // A batch: all of its keys are written in one transaction, or none.
        const specs = Array.from({ length: 4 }, (_, j) => ({
          name: `${prefix}-batch${i}-${j}`,
          service: 'churn',
          environment: 'production',
          scopes: ['read', `batch:${i}`],
          owner: 'crash-test',
          notes: `batch ${i} key ${j} `.repeat(20),
        }));
        createKeys(svc.vault, specs);
        committed += specs.length;
      } else {
        await svc.call('key.create', {
          name: `${prefix}-single${i}`,
          service: 'churn',
          scopes: ['read', 'write'],
          notes: `single key ${i} `.repeat(20),
        });
        committed += 1;
      }
      emit({ committed });
    }
    svc.close();
    return;
  }
  svc.close();
  throw new Error(`vault-child.ts: unknown mode ${String(mode)}`);
}

main().catch((e: unknown) => {
  emit({ code: codeOf(e), fatal: true });
  process.exitCode = 1;
});
