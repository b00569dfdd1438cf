// loopguard/koa adapter.
export {};
