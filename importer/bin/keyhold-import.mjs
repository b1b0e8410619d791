#!/usr/bin/env node
// Placeholder until the importer lands (issue 5).
process.stderr.write('keyhold-import: not built yet\n');
process.exit(70);
