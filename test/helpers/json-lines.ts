import type { Readable } from 'node:stream';

/**
 * Call `onJson` with every line of `stream` that parses as JSON, in order; other lines
 * (a fixture's or Node's own messages) are skipped. A line split across chunks is joined first.
 */
export function onJsonLines(stream: Readable, onJson: (value: unknown) => void): void {
  let pending = '';
  stream.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    let newline = pending.indexOf('\n');
    while (newline !== -1) {
      const text = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        continue;
      }
      onJson(value);
    }
  });
}
