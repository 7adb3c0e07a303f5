// Why an exchange with the relay got no HTTP answer, in words: fetch only says "fetch failed", the code of
// its cause says what happened. The usual mistake is --relay set to the server's own address: the server
// presents a self-signed RA-TLS certificate (which fetch refuses, as it should: the client trusts the
// server through attestation, not through TLS) and drops plain-HTTP connections without an answer.
import { CloisterError } from '../../attestation/errors.js';

const NOT_THE_SERVER = "is this the Cloister server's own address? --relay takes the relay's URL (see the banner of cloister local)";

/** The error code (an errno, OpenSSL or undici code) nearest the root of `error`'s cause chain. */
function rootCode(error: unknown): { code: string; message: string } | undefined {
  let found: { code: string; message: string } | undefined;
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') found = { code, message: e.message };
  }
  return found;
}

function reason(relay: URL, code: string, message: string): string {
  if (code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'SELF_SIGNED_CERT_IN_CHAIN') return `its TLS certificate is self-signed, not trusted (${code}): ${NOT_THE_SERVER}`;
  if (/CERT|UNABLE_TO_(?:GET|VERIFY)/.test(code)) return `its TLS certificate is not trusted (${code})`;
  if (code === 'UND_ERR_SOCKET' && relay.protocol === 'http:') return `the connection closed without an answer (${code}): is it an HTTPS server, such as the Cloister server itself? --relay takes the relay's URL (see the banner of cloister local)`;
  if (code.startsWith('ERR_SSL_') || code === 'EPROTO') return `it does not speak TLS (${code}); try http://`;
  if (code === 'ECONNREFUSED') return `nothing listens there (${code}): is the relay running? npm start runs the local stack`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `the host name ${relay.hostname} does not resolve (${code})`;
  return message.includes(code) ? message : `${message} (${code})`;
}

/**
 * For an error of OhttpClient whose exchange got no HTTP answer (the network failed, or the time limit
 * passed), why, in one phrase; undefined for any other error (an HTTP status, a refused attestation).
 */
export function relayFailureReason(relay: string, error: unknown): string | undefined {
  if (!(error instanceof CloisterError) || error.code !== 'OHTTP_REQUEST_FAILED' || !(error.cause instanceof Error)) return undefined;
  if (error.cause.name === 'TimeoutError') return 'no answer within the time limit (TimeoutError)';
  const root = rootCode(error.cause);
  return root === undefined ? error.cause.message : reason(new URL(relay), root.code, root.message);
}
