// Small readers of HTTP facts shared by the clients and the servers: a media type without parameters,
// and the `code` of an application/problem+json body.

/** "Message/OHTTP-Req; x=y" -> "message/ohttp-req"; "" when absent. */
export function mediaType(contentType: string | null | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** The `code` member of a problem+json body (its first 4 KiB), if it has one. */
export function problemCode(body: Uint8Array): string | undefined {
  try {
    const json = JSON.parse(new TextDecoder().decode(body.subarray(0, 4096))) as { code?: unknown };
    return typeof json.code === 'string' ? json.code : undefined;
  } catch {
    return undefined;
  }
}
