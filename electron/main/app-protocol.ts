/**
 * Serves `app://keyhold/` from the built renderer folder. No electron import:
 * main passes it to protocol.handle, and the Node tests call it with real files.
 */

import fs from 'node:fs/promises';
import path from 'node:path';
import { appResponseHeaders, contentTypeFor, resolveAppFile } from './policy.js';

export type AppRequest = Readonly<{ url: string; method: string }>;

function refuse(status: number, text: string): Response {
  return new Response(text, { status, headers: appResponseHeaders('text/plain; charset=utf-8') });
}

/**
 * Answers one request: GET or HEAD of a regular file inside root, else 403,
 * 404 or 405. Symbolic links are followed only when they end inside root, so a
 * link planted in the folder cannot serve a file outside it.
 */
export async function serveAppRequest(root: string, request: AppRequest): Promise<Response> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return refuse(405, 'method not allowed');
  const file = resolveAppFile(root, request.url);
  if (file === null) return refuse(403, 'forbidden');
  let real: string;
  let realRoot: string;
  try {
    [real, realRoot] = await Promise.all([fs.realpath(file), fs.realpath(root)]);
  } catch {
    return refuse(404, 'not found');
  }
  const rel = path.relative(realRoot, real);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return refuse(403, 'forbidden');
  let body: Buffer;
  try {
    const stat = await fs.stat(real);
    if (!stat.isFile()) return refuse(404, 'not found');
    body = await fs.readFile(real);
  } catch {
    return refuse(404, 'not found');
  }
  const headers = appResponseHeaders(contentTypeFor(real));
  headers['Content-Length'] = String(body.byteLength);
  return new Response(request.method === 'HEAD' ? null : new Uint8Array(body), { status: 200, headers });
}
