// The verify page's words for a failed check: what an error code means to someone who is not an expert, in one
// sentence. The code and the verifier's own message are always shown beside it; a code not listed here is
// described by its group (parse, policy, log) or by the message alone.
import { isParseErrorCode } from '../../attestation/errors.js';

const WORDS: Readonly<Record<string, string>> = {
  NO_ATTESTATION: 'The server presents no attestation at all: nothing proves what it runs.',
  UNTRUSTED_ROOT: 'The evidence is not signed by AMD or Intel, but by a key this page does not trust (a simulated server signs with its own development key).',
  CHAIN_SIGNATURE_INVALID: 'A signature in the chain of certificates from the hardware maker to the chip does not verify: the evidence was altered or forged.',
  REPORT_SIGNATURE_INVALID: "The chip's signature over its report does not verify: the report was altered after the hardware signed it.",
  QE_REPORT_DATA_MISMATCH: "Intel's quoting enclave did not vouch for this quote's key: the quote was altered or assembled from parts.",
  CERT_EXPIRED: 'A certificate in the evidence has expired.',
  CERT_NOT_YET_VALID: 'A certificate in the evidence is not valid yet (or this computer’s clock is wrong).',
  CERT_REVOKED: 'The hardware maker has revoked a certificate in the chain.',
  MISSING_CERTIFICATE: 'The evidence lacks a certificate needed to check the chip’s signature.',
  KEY_BINDING_MISMATCH: 'The hardware report does not vouch for the keys this server presents: the keys could belong to someone else.',
  KEY_CONFIG_MISMATCH: 'The encryption keys the server hands out are not the ones its attestation vouches for.',
  MEASUREMENT_NOT_LOGGED: 'The software this server runs (its launch measurement) is not published in the transparency log you trust: nobody has vouched for it publicly.',
  MEASUREMENT_SOURCE_MISSING: 'You gave nothing to compare the server’s software against: a transparency log, a measurements file or a measurement.',
  POLICY_MEASUREMENT: 'The server runs software (launch measurement) other than the one you allowed.',
  TCB_STATUS: 'Intel rates this machine’s firmware and microcode as not up to date for the policy.',
  POLICY_TCB_TOO_LOW: 'The machine’s firmware or microcode is older than the policy’s minimum.',
  POLICY_DEBUG: 'The confidential VM allows debugging: its memory could be read by the host.',
  TLOG_UNAVAILABLE: 'The transparency log could not be read from this browser (down, wrong address, or it does not allow other sites to read it).',
  DSSE_SIGNATURE_INVALID: 'The log entry is not signed by the publisher key you gave.',
  NOTE_SIGNATURE_INVALID: 'The log’s checkpoint is not signed by the log key you gave.',
  WITNESS_COSIGNATURES_MISSING: 'Not enough of the witnesses you named have cosigned the log’s checkpoint.',
  CHECKPOINT_FORK: 'The log shows this browser a different history than before: it may be showing different people different logs.',
  CHECKPOINT_ROLLBACK: 'The log shows an older state than this browser has already seen.',
  HARDWARE_POLICY_NOT_LOGGED: 'The log publishes no hardware policy, and one is required.',
  OHTTP_REQUEST_FAILED:
    'The server (or relay) could not be reached from this browser, or did not answer as a Cloister server does. A Cloister server’s own HTTPS certificate is self-signed (its attestation is its identity), so browsers refuse it: give its relay’s URL instead (the local stack’s: http://127.0.0.1:8081/default).',
  COLLATERAL_MISSING: 'The TDX evidence lacks Intel’s collateral, needed to judge the machine’s firmware.',
};

/** The plain sentence for `code`. */
export function plainWords(code: string): string {
  const known = WORDS[code];
  if (known !== undefined) return known;
  if (isParseErrorCode(code)) return 'The evidence is damaged or not in a format this page reads: it was altered, truncated, or is not what it claims to be.';
  if (code.startsWith('POLICY_')) return 'The evidence is genuine, but the machine or its configuration does not meet the policy.';
  if (code.startsWith('MALFORMED_') || code.startsWith('TLOG_') || code.includes('CHECKPOINT') || code.includes('INCLUSION')) return 'A transparency log answer does not check out.';
  return 'A check failed; the verifier’s own words follow.';
}
