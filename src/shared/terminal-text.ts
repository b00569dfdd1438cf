/**
 * Escaping for text that reaches a terminal or a log line: request paths, routes, function and
 * file names and context values come from clients and from code, and a raw ESC, CR or bidi
 * override in them could rewrite the terminal (clear it, retitle it, hide or reorder a line)
 * or forge a log line. Loaded by the main thread (the reporter) and the watchdog thread (the
 * hang report): it imports nothing.
 */

/**
 * C0 controls (line breaks included: a value must stay on its line), DEL, C1 controls (U+009B
 * is a one-byte CSI on some terminals), the bidi embeddings, overrides and isolates plus the
 * marks (Trojan Source, CVE-2021-42574), and the Unicode line and paragraph separators.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;
/** What JSON.stringify leaves raw of the above: everything past C0. */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function hex(char: string, width: 2 | 4): string {
  return char.charCodeAt(0).toString(16).toUpperCase().padStart(width, '0');
}

/** `a\x1B[2Jb` → `a\\x1B[2Jb`: one visible escape per unsafe character, the rest untouched. */
export function escapeTerminal(text: string): string {
  return text.replace(UNSAFE, (char) => {
    const named = NAMED[char];
    if (named !== undefined) return named;
    const code = char.charCodeAt(0);
    return code <= 0xff ? `\\x${hex(char, 2)}` : `\\u${hex(char, 4)}`;
  });
}

/**
 * `JSON.stringify` for a log line: the same value once parsed, but with DEL, C1, bidi and line
 * separators written as `\uXXXX` too (JSON.stringify escapes only C0 and quotes).
 */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value).replace(UNSAFE_IN_JSON, (char) => `\\u${hex(char, 4)}`);
}
