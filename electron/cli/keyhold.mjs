#!/usr/bin/env node
// The `keyhold` command. In the source tree it runs the TypeScript CLI through
// tsx; packaged builds ship a compiled CLI instead (see docs/packaging.md).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));
