// Where a Cloister gateway serves Oblivious HTTP, and the media types on the wire. A relay mirrors the
// same paths under its resource for each gateway it allows: {relay}/{name}/.well-known/ohttp-gateway.
/** GET: the key configurations (application/ohttp-keys, RFC 9540); POST: the gateway resource (message/ohttp-req). */
export const OHTTP_GATEWAY_PATH = '/.well-known/ohttp-gateway';
/** GET: the current RA-TLS certificate (DER, application/pkix-cert), which binds the served key configurations. */
export const ATTESTATION_CERTIFICATE_PATH = '/.well-known/cloister/attestation';

export const OHTTP_REQUEST_MEDIA_TYPE = 'message/ohttp-req';
export const OHTTP_RESPONSE_MEDIA_TYPE = 'message/ohttp-res';
export const OHTTP_KEYS_MEDIA_TYPE = 'application/ohttp-keys';
export const PKIX_CERT_MEDIA_TYPE = 'application/pkix-cert';
