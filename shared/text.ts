/**
 * Free text that people type (owners, notes, labels, operator names) and that
 * Keyhold prints back: one rule for what is accepted, one function for how it
 * is shown on a terminal.
 *
 * Refused in every free-text field: control characters (C0 U+0000-U+001F,
 * DEL U+007F, C1 U+0080-U+009F, which terminals act on: U+009B is CSI),
 * format characters (Unicode Cf: bidi embeddings, overrides and isolates
 * U+202A-U+202E and U+2066-U+2069, marks U+200E/U+200F, zero-width
 * characters, U+FEFF, ...), the line and paragraph separators U+2028/U+2029
 * and lone surrogates. They let a name forge output lines or reorder what a
 * reader sees. Notes alone may hold newlines and tabs (they are multi-line
 * text); printed, those are escaped like the rest.
 */

/** One character that is never accepted in free text, nor printed raw. */
const UNSAFE_RE = /[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/u;
const UNSAFE_GLOBAL_RE = /[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/gu;

/** U+XXXX of a code point, as messages name a refused character. */
export function codePointName(ch: string): string {
  return `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * The first character of `text` that free text must not hold, or null.
 * `multiline` allows newline and tab (notes).
 */
export function unsafeChar(text: string, multiline = false): string | null {
  if (!UNSAFE_RE.test(text)) return null;
  for (const ch of text) {
    if (multiline && (ch === '\n' || ch === '\t')) continue;
    if (UNSAFE_RE.test(ch)) return ch;
  }
  return null;
}

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text as a terminal may show it: every character free text may not hold is
 * written as an escape (`\n`, `\r`, `\t`, else `\u{9b}`), so a value from an
 * older vault or a token's label can neither add a line nor hide or reorder
 * text. Everything else is unchanged.
 */
export function escapeText(text: string): string {
  if (!UNSAFE_RE.test(text)) return text;
  return text.replace(UNSAFE_GLOBAL_RE, (ch) => NAMED[ch] ?? `\\u{${(ch.codePointAt(0) ?? 0).toString(16)}}`);
}
