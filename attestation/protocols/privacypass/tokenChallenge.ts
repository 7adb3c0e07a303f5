// The TokenChallenge of RFC 9577 section 2.1.1, which an origin sends in WWW-Authenticate and a token commits to
// by its SHA-256 digest:
//   struct {
//     uint16_t token_type;
//     opaque issuer_name<1..2^16-1>;        ASCII
//     opaque redemption_context<0..32>;     empty or 32 bytes
//     opaque origin_info<0..2^16-1>;        ASCII origin names joined by ","; empty for any origin
//   } TokenChallenge;
import { concatBytes } from '../../bytes.js';
import { malformed, TlsReader, u16, vector } from './tlsReader.js';

export interface TokenChallenge {
  readonly tokenType: number;
  readonly issuerName: string;
  readonly redemptionContext: Uint8Array;
  /** The origin names; empty when the token may be redeemed at any origin. */
  readonly originInfo: readonly string[];
}

const REDEMPTION_CONTEXT_LENGTH = 32;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

function ascii(bytes: Uint8Array, field: string, offset: number): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  if (!PRINTABLE_ASCII.test(s)) malformed(`${field} is not printable ASCII`, field, offset);
  return s;
}

function asciiBytes(s: string, field: string): Uint8Array {
  if (!PRINTABLE_ASCII.test(s)) malformed(`${field} is not printable ASCII`, field);
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

function checkContext(context: Uint8Array, offset?: number): void {
  if (context.length !== 0 && context.length !== REDEMPTION_CONTEXT_LENGTH) malformed(`redemption_context is ${context.length} bytes, not 0 or ${REDEMPTION_CONTEXT_LENGTH}`, 'redemption_context', offset);
}

export function encodeTokenChallenge(c: TokenChallenge): Uint8Array {
  if (!Number.isInteger(c.tokenType) || c.tokenType < 0 || c.tokenType > 0xffff) malformed(`token_type must be 0..65535, got ${c.tokenType}`, 'token_type');
  checkContext(c.redemptionContext);
  if (c.originInfo.some((o) => o === '' || o.includes(','))) malformed('origin_info names must be non-empty and contain no comma', 'origin_info');
  return concatBytes(
    u16(c.tokenType),
    vector(asciiBytes(c.issuerName, 'issuer_name'), 'issuer_name', 1, 0xffff),
    vector(c.redemptionContext, 'redemption_context', 0, REDEMPTION_CONTEXT_LENGTH),
    vector(asciiBytes(c.originInfo.join(','), 'origin_info'), 'origin_info', 0, 0xffff),
  );
}

export function decodeTokenChallenge(bytes: Uint8Array): TokenChallenge {
  const r = new TlsReader(bytes, 'TokenChallenge');
  const tokenType = r.u16('token_type');
  let at = r.offset;
  const issuerName = ascii(r.vector('issuer_name', 1, 0xffff), 'issuer_name', at);
  at = r.offset;
  const redemptionContext = r.vector('redemption_context', 0, REDEMPTION_CONTEXT_LENGTH);
  checkContext(redemptionContext, at);
  at = r.offset;
  const origins = ascii(r.vector('origin_info', 0, 0xffff), 'origin_info', at);
  r.end();
  const originInfo = origins === '' ? [] : origins.split(',');
  if (originInfo.includes('')) malformed('origin_info has an empty origin name', 'origin_info', at);
  return Object.freeze({ tokenType, issuerName, redemptionContext, originInfo: Object.freeze(originInfo) });
}
