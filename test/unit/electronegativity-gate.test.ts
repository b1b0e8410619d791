import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

// The gate's logic is plain JavaScript (node runs the gate without a build step),
// so it is loaded by URL and given its shape here.
type Finding = { check: string; severity: string; file: string; line: number | null; location: string; sample: string };
type Justification = { check: string; file: string; line: number | null; pattern: string | null; reason: string };
type GateResult = {
  pass: boolean;
  bySeverity: Record<string, number>;
  below: Finding[];
  justified: { finding: Finding; reason: string }[];
  unjustified: Finding[];
  unused: Justification[];
};
type GateLib = {
  parseCsvRows(text: string): string[][];
  parseFindings(text: string): Finding[];
  parseJustifications(json: unknown): Justification[];
  evaluate(findings: Finding[], justifications: Justification[]): GateResult;
  summarize(result: GateResult): string;
};

const ROOT = path.resolve(import.meta.dirname, '../..');
let lib: GateLib;

beforeAll(async () => {
  lib = (await import(pathToFileURL(path.join(ROOT, 'build/electronegativity/gate-lib.mjs')).href)) as GateLib;
});

// Rows as Electronegativity 1.10.3 writes them (taken from a run over this repository).
const HEADER = 'issue, severity, confidence, filename, location, sample, description, url';
const CSV = [
  HEADER,
  `CSP_GLOBAL_CHECK,"LOW","FIRM","renderer/index.html","5:0","default-src 'self'; script-src 'self'","One or more CSP directives detected seems to be vulnerable",https://github.com/doyensec/electronegativity/wiki/CSP_GLOBAL_CHECK`,
  `AUXCLICK_JS_CHECK,"MEDIUM","FIRM","electron/main/index.ts","25:14","const win = new BrowserWindow({","Limit navigation flows to untrusted origins. Middle-click may cause Electron to open a link within a new window",https://github.com/doyensec/electronegativity/wiki/AUXCLICK_JS_CHECK`,
  `PRELOAD_JS_CHECK,"MEDIUM","FIRM","electron/main/window.ts","31:6","preload: join(import.meta.dirname, '../preload/index.cjs'),","Review the use of preload scripts",https://github.com/doyensec/electronegativity/wiki/PRELOAD_JS_CHECK`,
  `OPEN_EXTERNAL_JS_CHECK,"HIGH","TENTATIVE","N/A","undefined:undefined",N/A,"Review the use of openExternal",https://github.com/doyensec/electronegativity/wiki/OPEN_EXTERNAL_JS_CHECK`,
].join('\n') + '\n';

describe('parseCsvRows', () => {
  it('handles quotes, doubled quotes, commas and line breaks inside fields, CRLF', () => {
    expect(lib.parseCsvRows('a,"b,c","say ""hi""","two\nlines"\r\nx,,z\r\n')).toEqual([
      ['a', 'b,c', 'say "hi"', 'two\nlines'],
      ['x', '', 'z'],
    ]);
  });

  it('refuses an unterminated quote', () => {
    expect(() => lib.parseCsvRows('a,"b\n')).toThrow(/unterminated/);
  });
});

describe('parseFindings', () => {
  it('reads the tool\'s rows', () => {
    const findings = lib.parseFindings(CSV);
    expect(findings.map((f) => [f.check, f.severity, f.file, f.line])).toEqual([
      ['CSP_GLOBAL_CHECK', 'LOW', 'renderer/index.html', 5],
      ['AUXCLICK_JS_CHECK', 'MEDIUM', 'electron/main/index.ts', 25],
      ['PRELOAD_JS_CHECK', 'MEDIUM', 'electron/main/window.ts', 31],
      ['OPEN_EXTERNAL_JS_CHECK', 'HIGH', '', null],
    ]);
    expect(findings[2]?.sample).toBe("preload: join(import.meta.dirname, '../preload/index.cjs'),");
  });

  it('reads a header-only file as no findings', () => {
    expect(lib.parseFindings(HEADER + '\n')).toEqual([]);
  });

  it('refuses the file the 1.10.3 CLI writes when its header overwrites the first row', () => {
    // Seen here with `-o out.csv`: two concurrent writes, the header landing over the first finding.
    const broken = `${HEADER}\nted in the target application",https://github.com/doyensec/electronegativity/wiki/CSP_GLOBAL_CHECK\n`;
    expect(() => lib.parseFindings(broken)).toThrow();
  });

  it('refuses a wrong header, short rows and unknown severities', () => {
    expect(() => lib.parseFindings('')).toThrow(/header/);
    expect(() => lib.parseFindings('a,b,c\n')).toThrow(/header/);
    expect(() => lib.parseFindings(`${HEADER}\nX_CHECK,"MEDIUM"\n`)).toThrow(/fields/);
    expect(() => lib.parseFindings(`${HEADER}\nX_CHECK,"SEVERE","FIRM","f","1:1","s","d",u\n`)).toThrow(/severity/);
  });
});

describe('evaluate', () => {
  const justification = (j: Record<string, unknown>) =>
    lib.parseJustifications({ justifications: [{ reason: 'a reason long enough to be read', ...j }] });

  it('fails on an unjustified MEDIUM or HIGH finding, ignores LOW', () => {
    const r = lib.evaluate(lib.parseFindings(CSV), []);
    expect(r.pass).toBe(false);
    expect(r.unjustified.map((f) => f.check)).toEqual(['AUXCLICK_JS_CHECK', 'PRELOAD_JS_CHECK', 'OPEN_EXTERNAL_JS_CHECK']);
    expect(r.below.map((f) => f.check)).toEqual(['CSP_GLOBAL_CHECK']);
    expect(r.bySeverity).toEqual({ INFORMATIONAL: 0, LOW: 1, MEDIUM: 2, HIGH: 1 });
    expect(lib.summarize(r)).toMatch(/FAIL/);
  });

  it('passes when every gated finding is justified by check, file and line or pattern', () => {
    const js = [
      ...justification({ check: 'AUXCLICK_JS_CHECK', file: 'electron/main/index.ts', line: 25 }),
      ...justification({ check: 'PRELOAD_JS_CHECK', file: 'electron/main/window.ts', pattern: 'preload:' }),
      ...justification({ check: 'OPEN_EXTERNAL_JS_CHECK', file: 'electron/main/other.ts', pattern: 'never' }),
    ];
    const findings = lib.parseFindings(CSV).filter((f) => f.check !== 'OPEN_EXTERNAL_JS_CHECK');
    const r = lib.evaluate(findings, js);
    expect(r.pass).toBe(true);
    expect(r.justified.map((x) => x.finding.check)).toEqual(['AUXCLICK_JS_CHECK', 'PRELOAD_JS_CHECK']);
    expect(r.unused.map((j) => j.check)).toEqual(['OPEN_EXTERNAL_JS_CHECK']);
    expect(lib.summarize(r)).toMatch(/pass/);
    expect(lib.summarize(r)).toMatch(/stale justification/);
  });

  it('does not let a justification cover another file, line or sample', () => {
    const findings = lib.parseFindings(CSV);
    for (const j of [
      { check: 'PRELOAD_JS_CHECK', file: 'electron/main/index.ts', pattern: 'preload:' },
      { check: 'PRELOAD_JS_CHECK', file: 'electron/main/window.ts', line: 30 },
      { check: 'PRELOAD_JS_CHECK', file: 'electron/main/window.ts', pattern: 'something else' },
      { check: 'AUXCLICK_JS_CHECK', file: 'electron/main/window.ts' },
    ]) {
      const r = lib.evaluate(findings, justification(j));
      expect(r.unjustified.map((f) => f.check)).toContain(j.check);
    }
  });

  it('refuses justifications without a reason or with a malformed field', () => {
    expect(() => lib.parseJustifications({})).toThrow();
    expect(() => lib.parseJustifications({ justifications: [{ check: 'X_CHECK', file: 'f', reason: 'ok' }] })).toThrow(/reason/);
    expect(() => lib.parseJustifications({ justifications: [{ check: 'x', file: 'f', reason: 'a reason long enough to be read' }] })).toThrow(/check/);
    expect(() => lib.parseJustifications({ justifications: [{ check: 'X_CHECK', file: 'f', line: 0, reason: 'a reason long enough to be read' }] })).toThrow(/line/);
  });

  it('the committed justifications file is valid', () => {
    const json: unknown = JSON.parse(fs.readFileSync(path.join(ROOT, 'build/electronegativity/justifications.json'), 'utf8'));
    expect(() => lib.parseJustifications(json)).not.toThrow();
  });
});
