// loopguard/fastify adapter.
export {};
