// The gateway's node:crypto HPKE primitives, against RFC 9180 and RFC 9458 vectors.
import { describeHpkeConformance } from '../../../attestation/testing/hpkeConformance.js';
import { nodeHpke } from './nodeHpke.js';

describeHpkeConformance(nodeHpke);
