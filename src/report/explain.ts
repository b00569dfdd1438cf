/** Print what keeps the process alive (via why-is-node-running). */
export function explainHandles(): void {
  throw new Error('not implemented yet');
}
