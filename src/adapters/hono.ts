// loopguard/hono adapter.
export {};
