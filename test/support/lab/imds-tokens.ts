import { randomBytes, randomInt } from 'node:crypto';

/**
 * IMDSv2 session tokens for the lab simulator: opaque strings with varied lengths and
 * alphabets (standard base64 with or without padding, URL-safe base64), so that no
 * consumer can rely on a shape such as "always ends in ==". Tokens expire by their TTL.
 * The store is bounded: past `maxTokens` the oldest token is forgotten.
 */
export class TokenStore {
  private readonly tokens = new Map<string, number>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly maxTokens = 10_000,
  ) {}

  /** issue a token valid for `ttlSeconds` */
  issue(ttlSeconds: number): string {
    const token = makeToken();
    if (this.tokens.size >= this.maxTokens) {
      const oldest = this.tokens.keys().next();
      if (!oldest.done) this.tokens.delete(oldest.value);
    }
    this.tokens.set(token, this.now() + ttlSeconds * 1000);
    return token;
  }

  /** remaining whole seconds of a valid token, or null if unknown or expired */
  remainingSeconds(token: string): number | null {
    const expires = this.tokens.get(token);
    if (expires === undefined) return null;
    const left = expires - this.now();
    if (left <= 0) {
      this.tokens.delete(token);
      return null;
    }
    return Math.max(1, Math.ceil(left / 1000));
  }

  get size(): number {
    return this.tokens.size;
  }
}

function makeToken(): string {
  // Real tokens start "AQAEA" and are ~56 chars; vary around that.
  const body = randomBytes(randomInt(30, 61));
  const style = randomInt(0, 3);
  let text: string;
  if (style === 0) text = body.toString('base64'); // may end in '', '=' or '=='
  else if (style === 1) text = body.toString('base64').replace(/=+$/, '');
  else text = body.toString('base64url');
  return `AQAEA${text}`;
}
