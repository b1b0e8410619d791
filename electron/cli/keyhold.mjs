#!/usr/bin/env node
// The `keyhold` command. In the source tree it runs the TypeScript CLI through
// tsx (about half a second to start); a packaged app will ship it compiled,
// with the packaging work of the desktop shell.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));
