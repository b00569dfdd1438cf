import { threaded } from 'loopguard';

/** Word frequencies of a text: CPU-bound for large bodies. */
export function wordCounts(text) {
  const counts = new Map();
  for (const word of text.toLowerCase().match(/[a-z']+/g) ?? []) counts.set(word, (counts.get(word) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, 5);
}

/** The route function for offload(): the request body (text) in, the top words out, in a worker. */
export const topWords = threaded(function topWords({ body }) {
  if (typeof body !== 'string' || body.length === 0) {
    throw Object.assign(new Error('send the text as the request body'), { status: 400 });
  }
  return { top: wordCounts(body) };
});
