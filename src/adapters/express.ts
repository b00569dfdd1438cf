// loopguard/express adapter.
export {};
