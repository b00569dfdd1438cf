// A pool thread's entry.
export {};
