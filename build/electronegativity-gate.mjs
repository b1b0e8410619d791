#!/usr/bin/env node
// Placeholder: the Electronegativity gate lands with the desktop shell (issue 6).
process.stdout.write('electronegativity gate: not wired yet\n');
