// Placeholder until the queue-redis branch lands: that branch owns this file and replaces it whole.
import type { OpenBackend } from '../backend.js';

export const openBullMQ: OpenBackend = () => Promise.reject(new Error('the BullMQ backend is not built yet (queue-redis branch)'));
