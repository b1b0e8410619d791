/**
 * The `keyhold` command. It parses arguments, gets secrets from the
 * environment, a file or a no-echo prompt, calls the core through the same
 * service API the desktop app uses, and prints. Nothing else lives here.
 *
 * Each part is loaded when it is needed: `--version` is answered here;
 * everything else runs program.ts (commander, the command groups in
 * commands/, their shared helpers in common.ts), and a command that runs
 * loads the core (engine.ts). The compiled CLI (out/cli) keeps the three in
 * files of their own (build/cli.vite.config.ts).
 */

import { readFileSync } from 'node:fs';

/** The package's version; package.json is two folders up both from electron/cli/ and from the compiled out/cli/. */
function version(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

export async function main(argv: readonly string[]): Promise<number> {
  // --version alone: a subcommand's own --version (key reveal --version N) is the program's to parse.
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const { run } = await import('./program.js');
  return run(argv);
}
