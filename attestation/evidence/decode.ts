// Evidence of either platform, recognized by its bytes: a JSON bundle by its `platform` member, a raw
// TDX quote by its header, and anything else as SEV-SNP (a raw or an extended report).
import { decodeEvidenceBundle, isJsonBundle, type DecodedEvidenceBundle } from './bundle.js';
import { decodeSnpEvidence } from '../snp/evidence.js';
import { decodeTdxEvidence, looksLikeTdxQuote } from '../tdx/evidence.js';

export type DecodedEvidence = DecodedEvidenceBundle;

export function decodeEvidence(bytes: Uint8Array): DecodedEvidence {
  if (isJsonBundle(bytes)) return decodeEvidenceBundle(bytes);
  if (looksLikeTdxQuote(bytes)) return { platform: 'tdx', evidence: decodeTdxEvidence(bytes) };
  return { platform: 'sev-snp', evidence: decodeSnpEvidence(bytes) };
}
