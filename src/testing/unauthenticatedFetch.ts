// Test support: a minimal fetch for the OHTTP client in Node (node:http / node:https) that does not authenticate the
// server's TLS certificate: Cloister gateways present self-signed RA-TLS certificates, and the client's
// trust comes from the attestation that binds the key configurations, not from TLS. Never use it for
// anything whose security rests on TLS.
import http from 'node:http';
import https from 'node:https';

export interface HttpFetchResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  arrayBuffer(): Promise<ArrayBuffer>;
}

const MAX_BODY = 64 << 20;

export function unauthenticatedFetch(url: string, init: { method: string; headers: Record<string, string>; body?: Uint8Array; signal?: AbortSignal }): Promise<HttpFetchResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const transport = u.protocol === 'https:' ? https : http;
    const req = transport.request(
      u,
      {
        method: init.method,
        headers: { ...init.headers, ...(init.body === undefined ? {} : { 'content-length': String(init.body.length) }) },
        ...(u.protocol === 'https:' ? { rejectUnauthorized: false } : {}),
        ...(init.signal === undefined ? {} : { signal: init.signal }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY) req.destroy(new Error(`response larger than ${MAX_BODY} bytes`));
          else chunks.push(c);
        });
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: { get: (name) => ((v) => (v === undefined ? null : Array.isArray(v) ? v.join(', ') : v))(res.headers[name.toLowerCase()]) },
            arrayBuffer: () => Promise.resolve(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength)),
          });
        });
      },
    );
    req.on('error', reject);
    req.end(init.body === undefined ? undefined : Buffer.from(init.body.buffer, init.body.byteOffset, init.body.byteLength));
  });
}
