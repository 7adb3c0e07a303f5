// TDX's entry in the platform table (../evidence/platforms.ts).
import type { Platform } from '../evidence/platformEntry.js';
import { readTdxCollateral, type TdxCollateral } from './collateral.js';
import { decodeRawTdxEvidence, looksLikeTdxQuote, tdxClaims, verifyTdxEvidence, type TdxEvidence } from './evidence.js';
import { parseTdxPolicyJson } from './policy.js';
import { parseQuote } from './quote.js';
import type { TdxPolicy } from './validate.js';
import { TdxVerifier } from './verify.js';

export const TDX_PLATFORM: Platform<'tdx', TdxEvidence, TdxPolicy, TdxVerifier, 'tdx'> = {
  name: 'tdx',
  label: 'TDX',
  key: 'tdx',
  decoderName: 'decodeTdxEvidence',
  detect: looksLikeTdxQuote,
  decode: decodeRawTdxEvidence,
  fromBundle: (bundle) => {
    let collateral: TdxCollateral | undefined;
    const problems: string[] = [];
    if ('collateral' in bundle) {
      const read = readTdxCollateral(bundle.collateral, '$.collateral');
      problems.push(...read.problems);
      collateral = read.collateral;
    }
    return {
      problems,
      evidence: ({ evidence, certificates, crls, simulated }) => ({ quote: evidence, certificates, crls, simulated, ...(collateral === undefined ? {} : { collateral }) }),
    };
  },
  verify: (evidence, policy, { at, verifier, chainOnly, hasher }) => verifyTdxEvidence(evidence, policy, { ...(at === undefined ? {} : { at }), ...(verifier === undefined ? {} : { verifier }), ...(chainOnly === true ? { chainOnly } : {}), ...(hasher === undefined ? {} : { hasher }) }),
  claims: (evidence) => tdxClaims(parseQuote(evidence.quote)),
  reportData: (evidence) => parseQuote(evidence.quote).body.reportData,
  measurement: { field: 'MRTD', of: (evidence) => parseQuote(evidence.quote).body.mrTd },
  parsePolicyJson: parseTdxPolicyJson,
  policyOptions: { allowDebug: 'allowDebug', measurements: 'mrtds', reportData: 'reportData', acceptedTcbStatuses: 'acceptedTcbStatuses' },
  takesCollateral: true,
  usesSuppliedEndorsements: false,
  createVerifier: (options) => new TdxVerifier(options),
};
