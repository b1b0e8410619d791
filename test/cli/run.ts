/**
 * Runs the real `keyhold` command in a child process, as a user's shell would.
 *
 * electron/cli/keyhold.mjs runs the compiled CLI (out/cli) when it was built
 * from the current sources, as it is after `npm run build` (which `npm test`
 * runs first), else the TypeScript sources through tsx (one test file run
 * after an edit, without a build): electron/cli/which.mjs decides. Under CI
 * the tests must run the compiled CLI, as users do: a missing or stale build
 * there is an error, not a silent run from source.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../electron/cli/keyhold.mjs', import.meta.url));
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Which CLI keyhold.mjs runs, and why (electron/cli/which.mjs, plain JavaScript: typed here). */
export type CliChoice = { use: 'compiled' | 'source'; why: string; entry: string };
// A specifier in a variable: TypeScript does not look for types of the .mjs file.
const WHICH = new URL('../../electron/cli/which.mjs', import.meta.url).href;
export const chooseCli = ((await import(WHICH)) as {
  chooseCli: (o?: { root?: string; env?: Record<string, string | undefined> }) => CliChoice;
}).chooseCli;

if (process.env.CI && chooseCli({ env: {} }).use !== 'compiled') {
  throw new Error(`CI runs the CLI tests on the compiled CLI, but keyhold would run its sources: ${chooseCli({ env: {} }).why}`);
}

export type Run = { code: number; stdout: string; stderr: string };

/** The importer's bin runs its compiled code (npm run build makes it; CI's `npm test` builds first): builds it when missing. */
export function ensureImporterBuilt(): void {
  if (!fs.existsSync(path.join(ROOT, 'importer', 'dist', 'cli.js'))) {
    execFileSync('npm', ['run', 'build', '-w', 'keyhold-import'], { cwd: ROOT, stdio: 'ignore' });
  }
}

/** The environment a test run starts from: nothing of the caller's Keyhold settings. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('KEYHOLD_')) delete env[k];
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export function keyhold(args: string[], env: Record<string, string | undefined> = {}, input?: string): Run {
  return runScript(BIN, args, env, input);
}

/** Runs a Node script (BIN, or another build of the CLI) as keyhold() runs BIN. */
export function runScript(script: string, args: string[], env: Record<string, string | undefined> = {}, input?: string): Run {
  const r = spawnSync(process.execPath, [script, ...args], {
    env: cleanEnv(env),
    input: input ?? '',
    encoding: 'utf8',
    cwd: ROOT,
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function keyholdJson<T>(args: string[], env: Record<string, string | undefined> = {}): T {
  const r = keyhold(['--json', ...args], env);
  if (r.code !== 0) throw new Error(`keyhold ${args[0] ?? ''} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/**
 * Runs keyhold on a real pseudo-terminal (util-linux `script`), answering
 * each prompt only once it has appeared, as a person would.
 */
export function keyholdOnTty(args: string[], answers: { prompt: string; reply: string }[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const cmd = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env: cleanEnv(env), cwd: ROOT });
  let out = '';
  let next = 0;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tty run timed out; output so far: ${out.length} chars`));
    }, 60_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      const a = answers[next];
      if (a && out.includes(a.prompt, 0)) {
        const seen = out.split(a.prompt).length - 1;
        const wanted = answers.slice(0, next + 1).filter((x) => x.prompt === a.prompt).length;
        if (seen >= wanted) {
          next++;
          child.stdin.write(`${a.reply}\r`);
        }
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: out, stderr: '' });
    });
  });
}
