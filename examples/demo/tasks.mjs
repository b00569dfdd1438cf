// The cure: the same function, marked with threaded(). Calls now run in loopguard's worker
// pool and return a promise; the worker finds the function by importing this module.
import { threaded } from 'loopguard';
import { hashPassword } from './hash.mjs';

export const hashPasswordOffLoop = threaded(hashPassword);
