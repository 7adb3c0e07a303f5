// Test support: Debian's HAProxy as a fleet gateway in front of the given nodes, with the configuration `cloister
// fleet haproxy` writes (src/fleet/haproxyConfig.ts), on a free loopback port; for benchmarks and tests that need
// the real load balancer without the rest of `cloister fleet local`.
import { findHaproxy, freePort, HaproxyChild } from '../cli/haproxyChild.js';
import type { HaproxyNode } from '../fleet/haproxyConfig.js';
import { selfSignedCertificate } from './selfSignedCertificate.js';

export interface HaproxyGateway {
  /** The haproxy executable found. */
  readonly executable: string;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Starts HAProxy and resolves once it answers GET /status; `directory` is cloister fleet's origin (any, if unused);
 * with `tls`, it listens for HTTPS with a throwaway self-signed certificate, as a gateway behind a relay would.
 */
export async function startHaproxyGateway(nodes: readonly HaproxyNode[], options: { readonly directory?: string; readonly tls?: boolean } = {}): Promise<HaproxyGateway> {
  const executable = findHaproxy();
  if (executable === undefined) throw new Error('no haproxy on PATH or in /usr/sbin (Debian\'s package "haproxy")');
  const child = await HaproxyChild.start({ executable, nodes, directory: options.directory ?? 'http://127.0.0.1:9', port: await freePort(), output: () => undefined, ...(options.tls === true ? { tls: await selfSignedCertificate() } : {}) });
  try {
    await child.ready;
  } catch (e) {
    await child.stop();
    throw e;
  }
  return {
    executable,
    url: child.url,
    stop: async () => {
      await child.stop();
    },
  };
}
