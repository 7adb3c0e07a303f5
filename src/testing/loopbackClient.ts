// Test support, run as its own process by src/cli/threeProcess.test.ts: an OHTTP client on 127.0.0.2
// that sends a random canary through the relay to the gateway with client-identifying headers on the
// outer request, and prints {canary, status, echoed} as one JSON line.
//   node loopbackClient.js RELAY_RESOURCE_URL
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { OhttpClient } from '../../attestation/client/ohttpClient.js';
import { SnpVerifier } from '../../attestation/snp/verify.js';
import { availableSimulatedRoots } from '../tee/sim/devRoots.js';
import { simulatedMeasurementPolicy } from '../tee/sim/simulatedMeasurements.js';

const IDENTIFYING = { cookie: 'session=client-secret-cookie', 'user-agent': 'loopback-client/1 (identifying)', 'x-client-id': 'client-4242', 'accept-language': 'tlh' };

function fetchFrom127002(url: string, init: { method: string; headers: Record<string, string>; body?: Uint8Array; signal?: AbortSignal }): Promise<{ status: number; headers: { get(name: string): string | null }; arrayBuffer(): Promise<ArrayBuffer> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: init.method, localAddress: '127.0.0.2', headers: { ...IDENTIFYING, ...init.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: { get: (n) => (res.headers[n.toLowerCase()] as string | undefined) ?? null }, arrayBuffer: () => Promise.resolve(new Uint8Array(body).buffer) });
      });
    });
    req.on('error', reject);
    req.end(init.body === undefined ? undefined : Buffer.from(init.body));
  });
}

const relay = process.argv[2];
if (relay === undefined) throw new Error('usage: loopbackClient.js RELAY_RESOURCE_URL');
const roots = await availableSimulatedRoots();
const client = new OhttpClient({ relay, policy: await simulatedMeasurementPolicy(), snpVerifier: new SnpVerifier({ additionalRoots: roots.snp }), fetch: fetchFrom127002 });
const canary = randomBytes(16).toString('hex');
const response = await client.fetch({ url: 'https://cloister/v1/echo', headers: [['x-inner-secret', `inner-${canary}`]], body: new TextEncoder().encode(canary) });
process.stdout.write(`${JSON.stringify({ canary, status: response.status, echoed: new TextDecoder().decode(response.content), keyId: response.keyId, accepted: response.verdict.accepted })}\n`);
