// Test and benchmark support (never used by the server): a minimal loopback HTTPS server presenting an
// RA-TLS certificate issued with the simulated SEV-SNP TEE, or an ordinary self-signed certificate,
// counting the requests it receives. It has no fresh-evidence endpoint: that path answers 404, or
// misbehaves as `fresh` says (for the client's refusal paths).
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createRaTlsCertificate, issueAttestedCertificate } from '../ratls/issue.js';
import { encodePem } from '../../../attestation/bytes.js';
import type { DevChain } from './devChain.js';
import { SimulatedSnp, SimulatedSnpProvider, type SimulatedSnpConfig } from './snpSimulator.js';

export interface LoopbackServer {
  readonly url: string;
  readonly port: number;
  readonly certificateDer: Uint8Array;
  /** Requests the server has received (method, path, body). */
  readonly requests: { method: string; url: string; body: string }[];
  close(): Promise<void>;
}

/** How POST /v1/attestation/fresh answers: 404, 429 with Retry-After, never, by closing the connection, or with 2 MiB. */
export type FreshBehaviour = 'absent' | 'rate-limited' | 'hang' | 'close' | 'huge';

function answerFresh(res: ServerResponse, behaviour: FreshBehaviour): void {
  switch (behaviour) {
    case 'absent':
      res.writeHead(404, { 'content-type': 'application/problem+json' });
      res.end('{"type":"urn:cloister:problem:not-found","title":"not found","status":404,"code":"NOT_FOUND"}');
      return;
    case 'rate-limited':
      res.writeHead(429, { 'content-type': 'application/problem+json', 'retry-after': '2' });
      res.end('{"type":"urn:cloister:problem:rate-limited","title":"too many requests","status":429,"code":"RATE_LIMITED"}');
      return;
    case 'hang':
      return;
    case 'close':
      res.writeHead(200, { 'content-type': 'application/json', connection: 'close' });
      res.end('{}');
      return;
    case 'huge':
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(Buffer.alloc(2 << 20, 0x20));
  }
}

async function listen(key: KeyObject, certPem: string, certificateDer: Uint8Array, fresh: FreshBehaviour = 'absent'): Promise<LoopbackServer> {
  const requests: { method: string; url: string; body: string }[] = [];
  const server = https.createServer({ key: key.export({ type: 'pkcs8', format: 'pem' }), cert: certPem }, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', body });
      if (req.url === '/v1/attestation/fresh') {
        answerFresh(res, fresh);
        return;
      }
      res.setHeader('content-type', 'text/plain');
      res.end(`hello ${body}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    certificateDer,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** An HTTPS server whose certificate carries simulated SEV-SNP evidence from `chain`. */
export async function startAttestedServer(chain: DevChain, options: { keyConfigs?: readonly Uint8Array[]; snp?: SimulatedSnpConfig; now?: Date; fresh?: FreshBehaviour } = {}): Promise<LoopbackServer> {
  const sim = await SimulatedSnp.create(options.snp ?? {}, { chain });
  const cert = await issueAttestedCertificate({ provider: new SimulatedSnpProvider(sim), keyConfigs: options.keyConfigs ?? [], ...(options.now === undefined ? {} : { now: options.now }) });
  return listen(cert.privateKey, cert.certificatePem, cert.certificateDer, options.fresh);
}

/** An HTTPS server with an ordinary self-signed P-256 certificate (no attestation extension). */
export async function startPlainServer(): Promise<LoopbackServer> {
  const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = new Date();
  const der = await createRaTlsCertificate({ publicKey: k.publicKey, signingKey: k.privateKey, cmw: undefined, notBefore: now, notAfter: new Date(now.getTime() + 3600_000) });
  return listen(k.privateKey, encodePem('CERTIFICATE', der), der);
}
