// TDX collateral from Intel PCS (or a PCCS / caching service speaking its v4 API) for the machine's own platform:
// the CollateralSource a server on TDX hardware refreshes its bundles' collateral from (collateralSource.ts).
import { fetchQuoteCollateral, INTEL_PCS_URL, type PcsClientOptions } from '../../attestation/tdx/pcsClient.js';
import type { TdxQuote } from '../../attestation/tdx/quote.js';
import { collateralSchedule, type CollateralFetch, type CollateralSource } from './collateralSource.js';

export class PcsCollateralSource implements CollateralSource {
  readonly name: string;
  readonly simulated = false;
  readonly #options: PcsClientOptions;

  constructor(options: PcsClientOptions = {}) {
    this.#options = options;
    this.name = `Intel PCS (${options.baseUrl ?? INTEL_PCS_URL})`;
  }

  async fetch(quote: TdxQuote): Promise<CollateralFetch> {
    const collateral = await fetchQuoteCollateral(quote, this.#options);
    return { collateral, ...collateralSchedule(collateral) };
  }
}
