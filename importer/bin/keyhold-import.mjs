#!/usr/bin/env node
// Entry point: the compiled CLI (npm run build -w keyhold-import writes ../dist).
import { main } from '../dist/cli.js';

process.exitCode = await main(process.argv.slice(2));
