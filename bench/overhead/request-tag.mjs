// node bench/overhead/request-tag.mjs — what storing a request tag costs, per request, in-process.
// Each option tags N fresh request pairs (a Fastify-like request object and the node:http
// IncomingMessage behind it, made before the clock starts); the median of ROUNDS rounds, the
// options interleaved so that a busy host slows them all alike. The adapters use
// `class-raw-symbol` (Express, Koa, Hono: a one-field object with prototype getters) and
// `const-raw-symbol` (Fastify: one frozen object per route); `descriptors` is what they did
// before (issue 8 point 8).
import http from 'node:http';
import { Socket } from 'node:net';

const N = Number(process.env.TAG_N ?? 20000);
const ROUNDS = Number(process.env.TAG_ROUNDS ?? 25);
const KEY = '__loopguard';
const SYM = Symbol.for('loopguard.v1.requestTag');
const socket = new Socket();

function incoming() {
  const request = new http.IncomingMessage(socket);
  request.method = 'GET';
  request.url = '/users/1?x=1';
  return request;
}
class FrameworkRequest {
  constructor(raw) {
    this.raw = raw;
    this.id = 1;
    this.params = {};
  }
  get method() {
    return this.raw.method;
  }
}
const routePattern = (request) => request.routeX;

// The code before: copy the literal's descriptors onto a fresh object, defineProperty on both.
function tagWithDescriptors(request, context) {
  const descriptors = Object.getOwnPropertyDescriptors(context);
  defineTag(request, descriptors);
  defineTag(request.raw, descriptors);
}
function defineTag(target, descriptors) {
  const existing = target[KEY];
  if (existing !== undefined) Object.defineProperties(existing, descriptors);
  else Object.defineProperty(target, KEY, { value: Object.defineProperties({}, descriptors), enumerable: false, configurable: true, writable: true });
}
const DESCRIPTOR = { value: undefined, enumerable: false, configurable: true, writable: true };
function defineShared(target, value) {
  DESCRIPTOR.value = value;
  Object.defineProperty(target, KEY, DESCRIPTOR);
  DESCRIPTOR.value = undefined;
}
class Tag {
  constructor(owner) {
    this.owner = owner;
  }
  get method() {
    return this.owner.method;
  }
  get route() {
    return routePattern(this.owner);
  }
}
const ROUTE_TAG = Object.freeze({ method: 'GET', route: '/users/:id' });
const tags = new WeakMap();

const options = {
  descriptors: (r) => tagWithDescriptors(r, { method: r.method, get route() { return routePattern(r); } }),
  'literal-define-both': (r) => { const t = { method: r.method, get route() { return routePattern(r); } }; defineShared(r, t); defineShared(r.raw, t); },
  'literal-assign-both': (r) => { const t = { method: r.method, get route() { return routePattern(r); } }; r[KEY] = t; r.raw[KEY] = t; },
  'class-define-both': (r) => { const t = new Tag(r); defineShared(r, t); defineShared(r.raw, t); },
  'class-assign-both': (r) => { const t = new Tag(r); r[KEY] = t; r.raw[KEY] = t; },
  'class-symbol-both': (r) => { const t = new Tag(r); r[SYM] = t; r.raw[SYM] = t; },
  'class-raw-define': (r) => { defineShared(r.raw, new Tag(r)); },
  'class-raw-string': (r) => { r.raw[KEY] = new Tag(r); },
  'class-raw-symbol': (r) => { r.raw[SYM] = new Tag(r); },
  'class-raw-weakmap': (r) => { tags.set(r.raw, new Tag(r)); },
  'const-raw-define': (r) => { defineShared(r.raw, ROUTE_TAG); },
  'const-raw-string': (r) => { r.raw[KEY] = ROUTE_TAG; },
  'const-raw-symbol': (r) => { r.raw[SYM] = ROUTE_TAG; },
  nothing: () => {},
};

function round(fn) {
  const requests = new Array(N);
  for (let i = 0; i < N; i += 1) requests[i] = new FrameworkRequest(incoming());
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i += 1) fn(requests[i]);
  return Number(process.hrtime.bigint() - start) / N;
}

const names = Object.keys(options);
const samples = Object.fromEntries(names.map((name) => [name, []]));
for (let r = 0; r < ROUNDS; r += 1) for (const name of names) samples[name].push(round(options[name]));
const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
console.log(`Node ${process.version}: ns per request (median of ${ROUNDS} rounds of ${N})`);
for (const name of names) console.log(`${name.padEnd(20)} ${median(samples[name]).toFixed(0).padStart(6)}`);
