// OHTTP encapsulation on @hpke/core with WebCrypto (the browser path), against RFC 9180 and RFC 9458 vectors.
import { describeHpkeConformance } from '../../testing/hpkeConformance.js';
import { webCryptoHpke } from './hpke.js';

describeHpkeConformance(webCryptoHpke);
