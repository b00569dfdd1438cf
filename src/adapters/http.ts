// loopguard/http adapter.
export {};
