import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { offload } from 'loopguard/hono';
import { closeAfterEach, getJson } from './helpers.js';

import { echo } from '../fixtures/adapters/echo-tasks.mjs';

const { servers } = closeAfterEach();
const MiB = 1024 * 1024;

async function startHono(): Promise<string> {
  const app = new Hono();
  app.post('/echo/:id', offload(echo));
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  servers.push(server);
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', resolve)));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** A body sent in 64 KiB chunks without a content-length, as a streaming client sends it. */
function chunkedBody(bytes: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      const size = Math.min(64 * 1024, bytes - sent);
      sent += size;
      controller.enqueue(new Uint8Array(size).fill(120));
    },
  });
}

describe("Hono's offload() reads at most the 1 MiB body the other adapters read", () => {
  it('refuses a body declared over 1 MiB with 413', async () => {
    const { status } = await getJson(`${await startHono()}/echo/1`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'x'.repeat(MiB + 1),
    });
    expect(status).toBe(413);
  });

  it('refuses a chunked body with no content-length once it passes 1 MiB', async () => {
    const { status } = await getJson(`${await startHono()}/echo/1`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: chunkedBody(4 * MiB),
      duplex: 'half',
    } as RequestInit);
    expect(status).toBe(413);
  });

  it('still passes a body of exactly 1 MiB', async () => {
    const { status, body } = await getJson(`${await startHono()}/echo/1`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'x'.repeat(MiB),
    });
    expect(status).toBe(200);
    expect(((body as { body: string }).body).length).toBe(MiB);
  });
});
