/** The token of a share path ("/s/abc" -> "abc"); null for any other path. */
export function shareToken(pathname: string): string | null {
  const match = /^\/s\/([A-Za-z0-9_-]{8,200})\/?$/.exec(pathname);
  return match ? (match[1] as string) : null;
}
