/**
 * The built-in error classes an error can be rebuilt as when it crosses a boundary by name:
 * from a pool thread (pool/main/remote-error.ts) or from a worker process through the job queue
 * (queue/payload.ts). Any other name comes back as an Error carrying that name.
 */
export const BUILT_IN_ERRORS: Readonly<Record<string, ErrorConstructor>> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};
