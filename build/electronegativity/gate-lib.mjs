/**
 * The Electronegativity gate's logic, separate from the process that runs the
 * tool so that it can be unit-tested: parse the CSV (the tool's exit code is 0
 * even with findings), match findings against written justifications, decide.
 * Plain JavaScript so that `node` runs the gate without a build step.
 */

/** The tool's severities, lowest first (dist/finder/attributes.js). */
export const SEVERITIES = Object.freeze(['INFORMATIONAL', 'LOW', 'MEDIUM', 'HIGH']);

/** Findings at or above this severity fail the gate unless justified. */
export const GATE_SEVERITY = 'MEDIUM';

/**
 * RFC 4180 CSV: quoted fields may hold commas, doubled quotes and line breaks.
 * Returns rows of raw field strings; a trailing line break adds no row.
 */
export function parseCsvRows(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const pushField = () => {
    row.push(field);
    field = '';
  };
  const pushRow = () => {
    pushField();
    rows.push(row);
    row = [];
  };
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else field += c;
      i += 1;
      continue;
    }
    if (c === '"' && field === '') quoted = true;
    else if (c === ',') pushField();
    else if (c === '\r' && text[i + 1] === '\n') {
      pushRow();
      i += 1;
    } else if (c === '\n') pushRow();
    else field += c;
    i += 1;
  }
  if (quoted) throw new Error('electronegativity CSV: unterminated quoted field');
  if (field !== '' || row.length > 0) pushRow();
  return rows;
}

const COLUMNS = ['issue', 'severity', 'confidence', 'filename', 'location', 'sample', 'description', 'url'];

/**
 * Parses the tool's CSV into findings. Throws on anything that does not look
 * like it (a wrong header, a short row, an unknown severity): a gate that
 * silently read nothing would pass everything.
 */
export function parseFindings(text) {
  const rows = parseCsvRows(text);
  const header = (rows.shift() ?? []).map((h) => h.trim().toLowerCase());
  if (header.join(',') !== COLUMNS.join(',')) {
    throw new Error(`electronegativity CSV: unexpected header ${JSON.stringify(header.join(','))}`);
  }
  return rows.map(function toFinding(r, n) {
    if (r.length !== COLUMNS.length) {
      throw new Error(`electronegativity CSV: row ${n + 2} has ${r.length} fields, expected ${COLUMNS.length}`);
    }
    const [check, severity, confidence, file, location, sample, description, url] = r;
    if (!/^[A-Z0-9_]+$/.test(check)) throw new Error(`electronegativity CSV: row ${n + 2}: bad check id ${JSON.stringify(check)}`);
    if (!SEVERITIES.includes(severity)) throw new Error(`electronegativity CSV: row ${n + 2}: unknown severity ${JSON.stringify(severity)}`);
    const m = /^(\d+|undefined):(\d+|undefined)$/.exec(location);
    const line = m && m[1] !== 'undefined' ? Number(m[1]) : null;
    return Object.freeze({
      check,
      severity,
      confidence,
      file: file === 'N/A' ? '' : file.replaceAll('\\', '/'),
      line,
      location,
      sample: sample === 'N/A' ? '' : sample,
      description,
      url,
    });
  });
}

export function severityRank(severity) {
  const r = SEVERITIES.indexOf(severity);
  if (r < 0) throw new Error(`electronegativity: unknown severity ${JSON.stringify(severity)}`);
  return r;
}

/**
 * Validates justifications.json: `{ "justifications": [ { check, file, line?,
 * pattern?, reason } ] }`. A justification names the file and either a line or a
 * pattern found in the finding's sample (a pattern survives edits above it), and
 * gives a reason a reviewer can check.
 */
export function parseJustifications(json) {
  const list = json && Array.isArray(json.justifications) ? json.justifications : null;
  if (!list) throw new Error('justifications: expected { "justifications": [...] }');
  return list.map(function toJustification(j, n) {
    const where = `justifications[${n}]`;
    if (!j || typeof j !== 'object') throw new Error(`${where}: not an object`);
    if (typeof j.check !== 'string' || !/^[A-Z0-9_]+$/.test(j.check)) throw new Error(`${where}: check must be a check id`);
    if (typeof j.file !== 'string' || j.file === '') throw new Error(`${where}: file is required`);
    if (typeof j.reason !== 'string' || j.reason.trim().length < 20) {
      throw new Error(`${where}: reason must say why (20 characters at least)`);
    }
    if (j.line !== undefined && !(Number.isInteger(j.line) && j.line > 0)) throw new Error(`${where}: line must be a positive integer`);
    if (j.pattern !== undefined && (typeof j.pattern !== 'string' || j.pattern === '')) throw new Error(`${where}: pattern must be a non-empty string`);
    return Object.freeze({
      check: j.check,
      file: j.file.replaceAll('\\', '/'),
      line: j.line ?? null,
      pattern: j.pattern ?? null,
      reason: j.reason.trim(),
    });
  });
}

export function justifies(j, f) {
  if (j.check !== f.check || j.file !== f.file) return false;
  if (j.line !== null && j.line !== f.line) return false;
  if (j.pattern !== null && !f.sample.includes(j.pattern)) return false;
  return true;
}

/**
 * Decides the gate. Every finding is classified: below the gate severity
 * (reported only), justified (with its reason), or unjustified (fails).
 * Justifications that matched nothing are returned so they can be pruned.
 */
export function evaluate(findings, justifications, threshold = GATE_SEVERITY) {
  const min = severityRank(threshold);
  const used = new Set();
  const below = [];
  const justified = [];
  const unjustified = [];
  for (const f of findings) {
    if (severityRank(f.severity) < min) {
      below.push(f);
      continue;
    }
    const j = justifications.find((x) => justifies(x, f));
    if (j) {
      used.add(j);
      justified.push({ finding: f, reason: j.reason });
    } else unjustified.push(f);
  }
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, findings.filter((f) => f.severity === s).length]));
  return {
    pass: unjustified.length === 0,
    bySeverity,
    below,
    justified,
    unjustified,
    unused: justifications.filter((j) => !used.has(j)),
  };
}

/** A short human summary, one line per gated finding. */
export function summarize(result) {
  const counts = SEVERITIES.slice().reverse().map((s) => `${s} ${result.bySeverity[s]}`).join(', ');
  const lines = [
    `electronegativity gate: ${counts}; at ${GATE_SEVERITY} or above: ${result.justified.length} justified, ${result.unjustified.length} not`,
  ];
  for (const { finding: f, reason } of result.justified) {
    const short = reason.length > 90 ? `${reason.slice(0, 87)}...` : reason;
    lines.push(`  justified   ${f.severity} ${f.check} ${f.file}:${f.location} (${short})`);
  }
  for (const f of result.unjustified) {
    lines.push(`  UNJUSTIFIED ${f.severity} ${f.check} ${f.file}:${f.location}: ${f.description} ${f.url}`);
    if (f.sample) lines.push(`              ${f.sample.slice(0, 160)}`);
  }
  for (const j of result.unused) {
    lines.push(`  stale justification (matches no finding): ${j.check} ${j.file}${j.line ? `:${j.line}` : ''}${j.pattern ? ` /${j.pattern}/` : ''}`);
  }
  lines.push(result.pass ? 'electronegativity gate: pass' : 'electronegativity gate: FAIL (fix the finding, or justify it in build/electronegativity/justifications.json)');
  return lines.join('\n');
}
