// Which of a server's PrivateToken challenges (RFC 9577 section 2.1) the client answers. Key consistency (RFC 9576
// section 6.2, RFC 9578 section 4): the server names the issuer key in `token-key`, and a key chosen for one client
// alone would tag that client's tokens. So a challenge is answered only with a key the issuer's own directory lists,
// of a token type this client obtains; the issuer's directory is the same for everyone who fetches it.
import { bytesEqual, toBase64Url } from '../../bytes.js';
import { CloisterError, VerificationError } from '../../errors.js';
import type { PrivateTokenChallenge } from '../../protocols/privacypass/authScheme.js';
import type { DirectoryKey, IssuerDirectory } from '../../protocols/privacypass/issuerDirectory.js';
import { tokenKeyId } from '../../protocols/privacypass/tokenKey.js';
import { hexTokenType, type ClientTokenType } from './clientTokenTypes.js';

export interface ChosenChallenge {
  readonly challenge: PrivateTokenChallenge;
  readonly key: DirectoryKey;
  readonly type: ClientTokenType;
}

/** In force (no not-before, or one passed) before announced ones, then the newest, then the server's order. */
function preference(nowSeconds: number): (a: ChosenChallenge, b: ChosenChallenge) => number {
  const inForce = (k: DirectoryKey): number => (k.notBefore === undefined || k.notBefore <= nowSeconds ? 0 : 1);
  return (a, b) => inForce(a.key) - inForce(b.key) || (b.key.notBefore ?? 0) - (a.key.notBefore ?? 0);
}

/**
 * The challenge to answer among `offered`: PRIVACY_PASS_NO_USABLE_CHALLENGE when none is of a type in `types`,
 * PRIVACY_PASS_KEY_INCONSISTENT (naming the keys' IDs) when those that are name keys `directory` does not list.
 */
export async function chooseChallenge(offered: readonly PrivateTokenChallenge[], directory: IssuerDirectory, types: readonly ClientTokenType[], nowSeconds: number, directoryUrl: string): Promise<ChosenChallenge> {
  const typed = offered.flatMap((challenge) => {
    const type = types.find((t) => t.tokenType === challenge.tokenChallenge.tokenType);
    return type === undefined ? [] : [{ challenge, type }];
  });
  if (typed.length === 0) {
    const asked = [...new Set(offered.map((c) => hexTokenType(c.tokenChallenge.tokenType)))].join(', ');
    throw new CloisterError('PRIVACY_PASS_NO_USABLE_CHALLENGE', `the server's PrivateToken challenges ask for token type ${asked}; this client obtains ${types.map((t) => hexTokenType(t.tokenType)).join(', ')}`, { field: 'WWW-Authenticate', actual: asked });
  }
  const listed = typed.flatMap(({ challenge, type }) => {
    const key = directory.tokenKeys.find((k) => k.tokenType === type.tokenType && bytesEqual(k.tokenKey, challenge.tokenKey));
    return key === undefined ? [] : [{ challenge, key, type }];
  });
  const [chosen] = listed.sort(preference(nowSeconds));
  if (chosen !== undefined) return chosen;
  const ids = await Promise.all(typed.map(async ({ challenge }) => toBase64Url(await tokenKeyId(challenge.tokenKey))));
  throw new VerificationError('PRIVACY_PASS_KEY_INCONSISTENT', `the server's challenge names issuer key ${ids.join(', ')}, which the issuer directory ${directoryUrl} does not list: refused, as a key shown to this client alone would tag its tokens`, {
    field: 'token-key',
    actual: ids.join(', '),
    expected: `one of ${directory.tokenKeys.length} key(s) the directory lists`,
  });
}
